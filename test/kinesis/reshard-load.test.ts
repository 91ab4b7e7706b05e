// Resharding under load on kinesis-local: while a producer appends events over 200 subjects, a consumer
// group of two OS processes (fenced leases and checkpoints in one SQLite file) and a view run, one shard is
// split and two are merged. Every event is handled, each subject's events are handled in order across parent
// and child shards (timestamps on the machine's one clock), and the view equals a pure fold.
// RIVERLOG_RESHARD_EVENTS sets the number of events (default 20,000; kinesis-local is slow: the producer
// writes ~120 events/s here with at most one record per subject in flight). The producer packs each
// subject's events of an append into KPL aggregates (fewer, larger Kinesis records: 95 s instead of 167 s
// for 20,000 events here); RIVERLOG_RESHARD_AGGREGATE=0 writes one Kinesis record per event.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCatalog, defineEvent, memoryViewStore, t } from '@riverlog/core';
import { kinesisLog } from '@riverlog/kinesis';
import { createProducer } from '@riverlog/producer';
import { runView } from '@riverlog/view-builder';
import { afterAll, expect, it } from 'vitest';
import { createStream, describeOn, kinesisLocal, rawClient, uniqueStream, until } from './extras-support.js';
import { type CartEvent, cartView, pureFold } from './fixtures/reshard-model.mjs';

// The fixture's catalog (reshard-model.mjs), typed here for emit.
const catalog = defineCatalog([defineEvent('cart/add', { data: { n: t.number, quantity: t.number } })]);
const EVENTS = Number(process.env.RIVERLOG_RESHARD_EVENTS ?? 20_000);
const AGGREGATE = process.env.RIVERLOG_RESHARD_AGGREGATE !== '0';
const SUBJECTS = 200;
const CHUNK = 1_000;
const member = fileURLToPath(new URL('./fixtures/reshard-member.mjs', import.meta.url));

const dir = mkdtempSync(path.join(tmpdir(), 'riverlog-reshard-'));
const children: ChildProcess[] = [];
const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
});

interface Handled {
  readonly at: number;
  readonly partition: string;
  readonly offset: string;
  readonly subject: string;
  readonly n: number;
  readonly id: string;
}

function handledBy(file: string): Handled[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [at, partition, offset, subject, n, id] = line.split(' ') as [string, string, string, string, string, string];
      return { at: Number(at), partition, offset, subject, n: Number(n), id };
    });
}

function spawnMember(endpoint: string, region: string, stream: string, store: string, handled: string, owner: string) {
  const child = spawn(process.execPath, [member, endpoint, region, stream, store, handled, owner], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) lines.push(JSON.parse(line));
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = `${stderr}${chunk.toString('utf8')}`.slice(-4000);
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, lines, exited, stderr: () => stderr };
}

describeOn(kinesisLocal, 'resharding under load')('resharding under load (kinesis-local)', () => {
  it(`${EVENTS.toLocaleString('en-US')} events over ${SUBJECTS} subjects, a split and a merge, two consumer processes and a view`, async () => {
    const endpoint = kinesisLocal.endpoint as string;
    const region = kinesisLocal.endpoint ? kinesisLocal.region : 'us-east-1';
    const setup = rawClient(kinesisLocal);
    closers.push(() => setup.destroy());
    const stream = uniqueStream('reshard');
    await createStream(setup, stream, 4);
    const started = Date.now();
    const timings: string[] = [];
    const mark = (what: string): void => void timings.push(`${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const store = path.join(dir, 'group.db');
    const members = ['a', 'b'].map((owner) => ({
      owner,
      file: path.join(dir, `handled-${owner}.txt`),
      process: spawnMember(endpoint, region, stream, store, path.join(dir, `handled-${owner}.txt`), owner),
    }));
    await until(() => members.every((m) => m.process.lines.some((line) => line.running)), 'both members running', 30_000);

    const viewLog = kinesisLog({ endpoint, region, stream, pollIntervalMs: 200 });
    closers.push(() => viewLog.close());
    const viewStore = memoryViewStore();
    const view = runView(cartView, { log: viewLog, store: viewStore, onError: () => {} });
    closers.push(() => view.stop());

    const log = kinesisLog({ endpoint, region, stream, aggregate: AGGREGATE });
    closers.push(() => log.close());
    const producer = createProducer({ log, catalog, source: 'reshard' });
    const emitted: CartEvent[] = [];
    const reshards: Promise<void>[] = [];
    for (let from = 0; from < EVENTS; from += CHUNK) {
      const events = Array.from({ length: Math.min(CHUNK, EVENTS - from) }, (_, i) => {
        const n = from + i;
        return { subject: `cart-${n % SUBJECTS}`, data: { n, quantity: (n % 5) + 1 } };
      });
      // The split and the merge run while the next chunks are being appended.
      if (from >= EVENTS / 3 && from - CHUNK < EVENTS / 3) {
        reshards.push(
          log
            .split('shardId-000000000000')
            .then((made) => mark(`split of shard 0 into ${made.map((c) => c.id).join(', ')} (started after ${from} events)`)),
        );
      }
      if (from >= (2 * EVENTS) / 3 && from - CHUNK < (2 * EVENTS) / 3) {
        reshards.push(
          log
            .merge('shardId-000000000002', 'shardId-000000000003')
            .then((made) => mark(`merge of shards 2 and 3 into ${made.id} (started after ${from} events)`)),
        );
      }
      const acknowledged = await Promise.all(events.map((e) => producer.emit('cart/add', e.subject, e.data)));
      for (const [i, { id }] of acknowledged.entries()) emitted.push({ id, ...(events[i] as Omit<CartEvent, 'id'>) });
    }
    await Promise.all(reshards);
    mark(`${EVENTS} events appended`);

    const seen = () => new Set(members.flatMap((m) => handledBy(m.file).map((h) => h.id))).size;
    await until(
      () => seen() >= EVENTS,
      `${EVENTS} events handled by the group`,
      600_000,
      () => {
        const gone = members.find((m) => m.process.child.exitCode !== null);
        return gone ? new Error(`member ${gone.owner} exited: ${gone.process.stderr()}`) : undefined;
      },
    );
    mark('every event handled by the group');
    await view.caughtUp({ timeoutMs: 600_000 });
    mark('view caught up');

    for (const m of members) m.process.child.kill('SIGTERM');
    await Promise.all(members.map((m) => m.process.exited));

    const handled = members.flatMap((m) => handledBy(m.file));
    const ids = new Set(handled.map((h) => h.id));
    expect(
      emitted.filter((e) => !ids.has(e.id)),
      'events never handled',
    ).toEqual([]);
    // Each subject's events were first handled in append order, whichever process and shard had them.
    const firstAt = new Map<string, Handled>();
    for (const h of [...handled].sort((a, b) => a.at - b.at)) if (!firstAt.has(h.id)) firstAt.set(h.id, h);
    const outOfOrder: string[] = [];
    const lastBySubject = new Map<string, Handled>();
    for (const event of emitted) {
      const h = firstAt.get(event.id) as Handled;
      const before = lastBySubject.get(h.subject);
      if (before && before.at > h.at) {
        outOfOrder.push(`${h.subject}: n ${h.n} (${h.partition}) handled before n ${before.n} (${before.partition})`);
      }
      lastBySubject.set(h.subject, h);
    }
    expect(outOfOrder.slice(0, 10), `${outOfOrder.length} events handled before an earlier one of their subject`).toEqual([]);
    const shards = new Set(handled.map((h) => h.partition));
    expect(shards.size, 'parents and children all read').toBe(7);
    const owners = members.filter((m) => handledBy(m.file).length > 0).length;
    expect(owners, 'both processes did work').toBe(2);

    const fold = pureFold(emitted);
    const table = (await viewStore.alias('reshard-carts')) ?? 'reshard-carts@1';
    const rows = new Map<string, unknown>();
    for (const subject of fold.keys()) rows.set(subject, await viewStore.get(table, subject));
    expect(rows).toEqual(fold);

    const duplicates = handled.length - ids.size;
    console.log(
      `resharding under load${AGGREGATE ? ' (aggregate)' : ''}: ${timings.join('; ')}; ${duplicates} redeliveries; shards: ${[...shards].sort().join(', ')}`,
    );
  }, 900_000);
});
