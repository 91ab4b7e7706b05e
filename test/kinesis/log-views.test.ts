// Kinesis has no consumer groups: views and consumers share its shards through the LeaseStore.
// Two leased view runners and two leased consumers in one process, on one 4-shard stream, while
// events are appended and a shard is split: the view equals a pure fold, every event is handled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsumer } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, type Envelope, memoryDeadLetters, t } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteLeaseStore, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { defineView, runView } from '@riverlog/view-builder';
import { afterEach, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesalite, streamLog, uniqueStream } from './log-support.js';

const Moved = defineEvent('stock/moved', { data: { sku: t.string, seq: t.number, delta: t.number } });
const catalog = defineCatalog([Moved]);

interface Stock {
  readonly level: number;
  readonly last: number;
  /** Events folded out of their subject's order: must stay 0. */
  readonly disorder: number;
}

const stock = defineView({
  name: 'stock',
  version: 1,
  catalog,
  initial: { level: 0, last: -1, disorder: 0 } as Stock,
  key: (event) => event.data.sku,
  apply: {
    'stock/moved': (row: Stock, event) => ({
      level: row.level + event.data.delta,
      last: event.data.seq,
      disorder: row.disorder + (event.data.seq === row.last + 1 ? 0 : 1),
    }),
  },
});

/** The same rows, folded in plain code from the events in the order they were appended. */
function pureFold(events: readonly Envelope[]): Map<string, Stock> {
  const rows = new Map<string, Stock>();
  for (const event of events) {
    const data = event.data as { sku: string; seq: number; delta: number };
    const row = rows.get(data.sku) ?? { level: 0, last: -1, disorder: 0 };
    rows.set(data.sku, { level: row.level + data.delta, last: data.seq, disorder: row.disorder + (data.seq === row.last + 1 ? 0 : 1) });
  }
  return rows;
}

const SKUS = 40;
let next = 0;
const seqs = new Map<string, number>();
function moves(count: number): Envelope[] {
  return Array.from({ length: count }, () => {
    const sku = `sku-${next++ % SKUS}`;
    const seq = seqs.get(sku) ?? 0;
    seqs.set(sku, seq + 1);
    return createEvent(catalog, 'stock/moved', sku, { sku, seq, delta: (seq % 7) - 3 }, { source: 'riverlog/test' });
  });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describeOn(kinesalite, 'Kinesis views and consumers')('views and consumers sharing Kinesis shards through leases (kinesalite)', () => {
  it('two leased view runners and two leased consumers: the view equals a pure fold, every event handled in subject order, across a split', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-kinesis-views-'));
    const stream = uniqueStream('views');
    const log = streamLog(kinesalite, stream, 4);
    const path = join(dir, 'state.db');
    const store = sqliteViewStore({ path });
    const leases = sqliteLeaseStore({ path });
    const checkpoints = sqliteCheckpointStore({ path });
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => deleteStream(kinesalite, stream),
      () => log.close(),
      () => store.close(),
      () => leases.close(),
      () => checkpoints.close(),
    );
    const appended: Envelope[] = [...moves(300)];
    await log.append(appended);

    const runners = ['a', 'b'].map((owner) => runView(stock, { log, store, leases: { store: leases, owner, ttlMs: 3_000 } }));
    const handled = new Map<string, string[]>();
    const consumers = ['a', 'b'].map((owner) =>
      createConsumer({
        log,
        catalog,
        group: 'stock-mailer',
        checkpoints,
        deadLetters: memoryDeadLetters(),
        leases: { store: leases, owner, ttlMs: 3_000 },
        checkpointEvery: { records: 20, ms: 50 },
        handlers: {
          'stock/moved': async (event) => {
            handled.set(event.subject, [...(handled.get(event.subject) ?? []), `${owner}:${event.data.seq}`]);
          },
        },
      }),
    );
    cleanups.push(async () => {
      await Promise.allSettled([...runners.map((r) => r.stop()), ...consumers.map((c) => c.stop())]);
    });
    for (const consumer of consumers) await consumer.start();
    await until(
      () => runners.every((r) => r.status().partitions.length === 2) && consumers.every((c) => c.assigned().length === 2),
      'the four shards shared 2/2 by the runners and by the consumers',
      20_000,
    );

    const more = moves(300);
    appended.push(...more);
    await log.append(more);
    const [parent] = (await log.partitions()).filter((p) => !p.closed);
    await log.split(parent?.id as string);
    const last = moves(300);
    appended.push(...last);
    await log.append(last);

    await Promise.all([
      ...runners.map((r) => r.caughtUp({ timeoutMs: 30_000 })),
      ...consumers.map((c) => c.caughtUp({ timeoutMs: 30_000 })),
    ]);

    const expected = pureFold(appended);
    for (const [sku, row] of expected) expect(await store.get('stock@1', sku), sku).toEqual(row);
    for (const [sku, row] of expected) expect(row.disorder, sku).toBe(0);
    // At least once, in order per subject: each subject's sequence, duplicates (a redelivery after a lease move) aside.
    for (const [sku, row] of expected) {
      const order = (handled.get(sku) ?? []).map((entry) => Number(entry.split(':')[1]));
      const firsts = order.filter((seq, i) => order.indexOf(seq) === i);
      expect(firsts, `${sku} handled in order`).toEqual(Array.from({ length: row.last + 1 }, (_, i) => i));
    }
    const owners = new Set([...handled.values()].flat().map((entry) => entry.split(':')[0]));
    expect(owners, 'both consumers handled events').toEqual(new Set(['a', 'b']));
  });
});
