// Issue 9, finding 2, the other way: events the official CloudEvents SDK sends over HTTP (binary and
// structured mode, its own HTTP transport) reach a small ingest endpoint that appends them to a SQLite
// log as they came; a consumer and a replay see them decoded.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsumer } from '@riverlog/consumer';
import { type Envelope, type EventLog, memoryCheckpointStore, memoryDeadLetters } from '@riverlog/core';
import { envelopeFromHttp } from '@riverlog/core/backend';
import { sqliteLog } from '@riverlog/sqlite';
import { replay } from '@riverlog/view-builder';
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode } from 'cloudevents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog } from './support.js';

let dir: string;
let server: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'riverlog-cloudevents-http-'));
});
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/**
 * An ingest endpoint: each request's CloudEvent (either HTTP mode) is
 * appended to `log` as it came (202), or refused with why (400).
 */
async function ingest(log: EventLog): Promise<string> {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const stored = envelopeFromHttp({ headers: request.headers, body: Buffer.concat(chunks) });
      if (stored.event === undefined) {
        response.writeHead(400).end(stored.error);
        return;
      }
      log.append([stored.event as Envelope]).then(
        () => response.writeHead(202).end(),
        (error: Error) => response.writeHead(400).end(error.message),
      );
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
}

const data = { id: 'p1', name: 'Bottes « cuir » 🥾', brand: 'Acme' };

/** SDK events with riverlog's required attributes (and `subject`): current, older under an https base, no dataschema, an extension. */
function sdkEvents(mode: string): CloudEvent<unknown>[] {
  return [
    new CloudEvent({
      id: `${mode}-current`,
      type: 'product/create',
      source: 'https://shop.example/web',
      subject: 'p1',
      dataschema: catalog.dataschema('product/create'),
      data,
    }),
    new CloudEvent({
      id: `${mode}-older`,
      type: 'product/create',
      source: 'https://shop.example/legacy',
      subject: 'p2',
      dataschema: 'https://schemas.shop.example/events/product/create/v1',
      data: { id: 'p2', name: 'Hat' },
    }),
    new CloudEvent({
      id: `${mode}-bare`,
      type: 'product/price',
      source: 'shop',
      subject: 'p1',
      data: { id: 'p1', cents: 1999, tags: ['é'] },
    }),
    new CloudEvent({
      id: `${mode}-extension`,
      type: 'product/price',
      source: 'shop',
      subject: 'p3',
      partitionkey: 'p3',
      data: { id: 'p3', cents: 5, tags: [] },
    }),
  ];
}

/** What riverlog must hand a handler for an SDK event. */
function expected(event: CloudEvent<unknown>): Record<string, unknown> {
  const upcast = event.id.endsWith('-older') ? { ...(event.data as object), brand: 'unknown' } : event.data;
  return {
    specversion: '1.0',
    id: event.id,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: event.time,
    dataschema: event.type === 'product/create' ? catalog.dataschema('product/create') : catalog.dataschema('product/price'),
    data: upcast,
    ...(event.partitionkey ? { partitionkey: event.partitionkey } : {}),
  };
}

describe('events the CloudEvents SDK sends over HTTP are read by riverlog', () => {
  it('binary and structured mode, through the SDK emitter: a consumer and a replay see them decoded', async () => {
    const log = sqliteLog({ path: join(dir, 'log.db'), partitions: 2 });
    const url = await ingest(log);
    const sent: CloudEvent<unknown>[] = [];
    for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
      const emit = emitterFor(httpTransport(url), { binding: HTTP, mode });
      for (const event of sdkEvents(mode)) {
        const response = (await emit(event)) as { body: string };
        expect(response.body, `${event.id} refused by the endpoint`).toBe('');
        sent.push(event);
      }
    }
    // The SDK's binary mode sends a JSON content type with parameters.
    expect(HTTP.binary(sdkEvents('x')[0] as CloudEvent<unknown>).headers['content-type']).toBe('application/json; charset=utf-8');

    const handled: Envelope[] = [];
    const deadLetters = memoryDeadLetters();
    const consumer = createConsumer({
      log,
      catalog,
      group: 'http-ingest',
      checkpoints: memoryCheckpointStore(),
      deadLetters,
      handlers: { 'product/create': (event) => void handled.push(event), 'product/price': (event) => void handled.push(event) },
    });
    await consumer.start();
    await consumer.caughtUp({ timeoutMs: 10_000 });
    await consumer.stop();
    expect(deadLetters.letters.map((l) => l.reason)).toEqual([]);
    const byId = <E extends { id: string }>(events: readonly E[]): E[] => [...events].sort((a, b) => a.id.localeCompare(b.id));
    const want = byId(sent).map(expected);
    expect(byId(handled).map((e) => ({ ...e, datacontenttype: undefined }))).toEqual(
      want.map((e) => ({ ...e, datacontenttype: undefined })),
    );
    // Binary mode's content type is kept as the event's datacontenttype, parameters and all.
    for (const event of handled.filter((e) => e.id.startsWith(Mode.BINARY))) {
      expect(event.datacontenttype).toBe('application/json; charset=utf-8');
    }

    const replayed: Envelope[] = [];
    await replay({ log, catalog, into: (event) => void replayed.push(event) });
    expect(byId(replayed)).toEqual(byId(handled));
    await log.close();
  });

  it('the endpoint refuses what is not a riverlog event: no subject, or data that is not JSON', async () => {
    const log = sqliteLog({ path: join(dir, 'log.db'), partitions: 1 });
    const url = await ingest(log);
    const emit = emitterFor(httpTransport(url), { binding: HTTP, mode: Mode.BINARY });
    const noSubject = new CloudEvent({ id: 'x1', type: 'product/price', source: 'shop', data: { id: 'p1', cents: 1, tags: [] } });
    const text = new CloudEvent({
      id: 'x2',
      type: 'product/price',
      source: 'shop',
      subject: 'p1',
      datacontenttype: 'text/plain',
      data: 'hello',
    });
    expect(((await emit(noSubject)) as { body: string }).body).toMatch(/subject/);
    expect(((await emit(text)) as { body: string }).body).toMatch(/text\/plain/);
    await log.close();
  });
});
