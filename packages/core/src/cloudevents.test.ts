// CloudEvents 1.0 conformance, judged by the official SDK (cloudevents 10): what riverlog writes
// passes its validation, and what it makes (HTTP and Kafka, binary and structured) riverlog reads.
import { CloudEvent, HTTP, Kafka } from 'cloudevents';
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { decodeRecord, defineCatalog, defineEvent, pastVersion } from './catalog.js';
import { createEvent } from './create-event.js';
import type { Envelope } from './envelope.js';
import { envelopeFromHttp } from './http-wire.js';
import { strict } from './issues.js';
import { envelopeFromKafkaRecord, envelopeToKafkaRecord, type KafkaWireRecord } from './kafka-wire.js';
import type { LogRecord } from './ports.js';

const ProductCreated = defineEvent('product/create', {
  version: 2,
  data: { id: t.string, name: t.string, brand: t.string },
  history: [pastVersion(1, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown' }))],
});
// Shaped like the consumer's dead-letter event: unknown payloads, nullable fields.
const DeadLetter = defineEvent('riverlog/dead-letter', {
  data: { group: t.string, code: t.string, event: t.unknown, raw: t.union([t.string, t.null]) },
});
const catalog = defineCatalog([ProductCreated, DeadLetter]);
const https = defineCatalog([ProductCreated], { dataschemaBase: 'https://schemas.shop.example/events/' });
const data = { id: 'p1', name: 'Boot', brand: 'Acme' };
const position = { partition: '0', offset: '7' };

/** The SDK's own check: its constructor validates against the CloudEvents 1.0 JSON schema and attribute names. */
function sdkValidates(event: object): void {
  const parsed = new CloudEvent(JSON.parse(JSON.stringify(event)) as Record<string, unknown>);
  expect(parsed.validate()).toBe(true);
}

function decoded(record: LogRecord): Envelope {
  const result = decodeRecord(catalog, record);
  if (E.isLeft(result)) throw result.left;
  return result.right;
}

/** A Kafka client serializes the value and header values to bytes: the SDK leaves that to it. */
function asSent(message: { key?: unknown; value?: unknown; headers?: Record<string, unknown> }): KafkaWireRecord {
  const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) if (value !== undefined) headers[name] = bytes(value);
  return { key: typeof message.key === 'string' ? Buffer.from(message.key) : null, value: bytes(message.value), headers };
}

describe('what riverlog writes passes the CloudEvents SDK', () => {
  const created = createEvent(catalog, 'product/create', 'p1', data, {
    source: 'shop/web',
    correlationid: 'c-1',
    causationid: '01HX0000000000000000000000',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  });

  it('createEvent, under the default urn: base and an https: base', () => {
    sdkValidates(created);
    sdkValidates(createEvent(https, 'product/create', 'p1', data, { source: 'shop/web' }));
    const letter = createEvent(
      catalog,
      'riverlog/dead-letter',
      'emailer/0',
      { group: 'emailer', code: 'DECODE_FAILED', event: null, raw: '{"oops' },
      {
        source: 'riverlog/consumer',
        id: 'dead-letter/emailer/0/7',
      },
    );
    sdkValidates(letter);
  });

  it('the SDK rejects the old `type@version` dataschema, so the check can fail', () => {
    expect(() => sdkValidates({ ...created, dataschema: 'product/create@2' })).toThrow(/dataschema/);
  });

  it('the Kafka structured and binary forms, read back by the SDK', () => {
    for (const mode of ['structured', 'binary'] as const) {
      const record = envelopeToKafkaRecord(created, mode);
      const event = Kafka.toEvent({
        key: record.key,
        value: record.value,
        headers: record.headers,
        body: record.value,
        timestamp: '0',
      } as never);
      const single = event as CloudEvent<unknown>;
      expect(single.validate()).toBe(true);
      expect(single).toMatchObject({
        id: created.id,
        type: 'product/create',
        subject: 'p1',
        dataschema: created.dataschema,
        correlationid: 'c-1',
      });
      expect(single.data).toEqual(data);
      // and riverlog reads its own forms back unchanged
      expect(decoded({ position, ...envelopeFromKafkaRecord(record) })).toEqual(
        mode === 'binary' ? { ...created, datacontenttype: 'application/json' } : created,
      );
    }
  });
});

describe('what the SDK makes riverlog reads', () => {
  const event = new CloudEvent({
    id: 'sdk-1',
    type: 'product/create',
    source: 'https://shop.example/web',
    subject: 'p1',
    dataschema: catalog.dataschema('product/create'),
    data,
  });
  const old = event.cloneWith({
    id: 'sdk-2',
    dataschema: 'https://schemas.shop.example/events/product/create/v1',
    data: { id: 'p1', name: 'Boot' },
  });
  const bare = new CloudEvent({ id: 'sdk-3', type: 'product/create', source: 'shop', subject: 'p1', data });

  it('HTTP structured and binary', () => {
    for (const message of [HTTP.structured(event), HTTP.binary(event)]) {
      const read = decoded({ position, ...envelopeFromHttp({ headers: message.headers, body: message.body as string }) });
      expect(read).toMatchObject({
        id: 'sdk-1',
        type: 'product/create',
        source: 'https://shop.example/web',
        subject: 'p1',
        time: event.time,
        data,
      });
    }
    expect(HTTP.binary(event).headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('Kafka structured and binary', () => {
    for (const message of [Kafka.structured(event), Kafka.binary(event)]) {
      const read = decoded({ position, ...envelopeFromKafkaRecord(asSent(message)) });
      expect(read).toMatchObject({ id: 'sdk-1', type: 'product/create', subject: 'p1', time: event.time, data });
    }
  });

  it('an older version under another base, upcast; no dataschema at all, read as the current version', () => {
    for (const message of [Kafka.binary(old), HTTP.binary(old)]) {
      const stored =
        'body' in message && !('key' in message)
          ? envelopeFromHttp({ headers: message.headers, body: message.body as string })
          : envelopeFromKafkaRecord(asSent(message));
      expect(decoded({ position, ...stored }).data).toEqual({ id: 'p1', name: 'Boot', brand: 'unknown' });
    }
    const read = decoded({ position, ...envelopeFromKafkaRecord(asSent(Kafka.structured(bare))) });
    expect(read).toMatchObject({ data, dataschema: 'urn:riverlog:product/create/v2' });
  });

  it("a binary record as Kafka's console producer writes it: required attributes only, time from the record", () => {
    const record: KafkaWireRecord & { timestamp: string } = {
      key: null,
      value: Buffer.from(JSON.stringify(data)),
      headers: {
        ce_specversion: Buffer.from('1.0'),
        ce_id: Buffer.from('console-1'),
        ce_type: Buffer.from('product/create'),
        ce_source: Buffer.from('console'),
        ce_subject: Buffer.from('p1'),
        'content-type': Buffer.from('application/json'),
      },
      timestamp: String(Date.UTC(2024, 4, 1, 10, 0, 0)),
    };
    const stored = envelopeFromKafkaRecord(record);
    expect(stored.storedAt).toBe(Date.UTC(2024, 4, 1, 10, 0, 0));
    const read = decoded({ position, ...stored });
    expect(read).toMatchObject({ id: 'console-1', source: 'console', subject: 'p1', time: '2024-05-01T10:00:00.000Z', data });
    expect(read.dataschema).toBe('urn:riverlog:product/create/v2');
    sdkValidates(read);
  });
});
