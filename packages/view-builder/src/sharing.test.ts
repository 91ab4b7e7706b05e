// How runners share a view: fenced leases (a lost lease stops the partition at
// once), lineage (parents before children, new partitions picked up),
// caughtUp() across processes, and the options they take.
import { type Envelope, memoryLeaseStore, memoryLog, memoryViewStore, PARTITION_END, type ViewStore } from '@riverlog/core';
import { LocalAssignment } from '@riverlog/core/backend';
import { until } from '@riverlog/testing';
import { describe, expect, test, vi } from 'vitest';
import { defineView } from './define-view.js';
import { openView } from './open-view.js';
import { catalog, created, purchased } from './retail.fixture.js';
import { runView } from './run-view.js';
import { productsView } from './views.fixture.js';

const counts = defineView({
  name: 'counts',
  version: 1,
  catalog,
  initial: { n: 0 },
  key: (event) => [event.subject, 'all'],
  apply: { 'product/purchase': (row) => ({ n: row.n + 1 }) },
});

const n = async (store: ViewStore, key: string) => ((await store.get('counts@1', key)) as { n: number } | undefined)?.n;
const purchases = (total: number, products = 20): Envelope[] => Array.from({ length: total }, (_, i) => purchased(`p${i % products}`));

describe('fenced leases', () => {
  test('a commit refused with LEASE_LOST stops that partition at once; the others go on, nothing is written under the stale fence', async () => {
    const log = memoryLog({ partitions: 2 });
    const base = memoryViewStore();
    const refused: string[] = [];
    const store: ViewStore = {
      ...base,
      commit: async (table, commit) => {
        try {
          await base.commit(table, commit);
        } catch (error) {
          refused.push((error as { code?: string }).code ?? 'unknown');
          throw error;
        }
      },
    };
    const leases = memoryLeaseStore();
    const runner = runView(counts, { log, store, leases: { store: leases, owner: 'a', ttlMs: 60_000 } });
    await until(() => runner.status().partitions.length === 2, 'both partitions');
    expect(runner.status().partitions.every((p) => p.epoch > 0)).toBe(true);
    await log.append(purchases(40));
    await runner.caughtUp();

    // Another process takes partition 0 over (a pause past the lease, say) and claims it.
    const group = 'view:counts@1';
    const seen = (await leases.list(group)).find((lease) => lease.partition === '0');
    const taken = await leases.take(group, '0', 'intruder', seen);
    if (!taken) throw new Error('the takeover failed');
    await base.commit('counts@1', { rows: [], ids: [], positions: {}, fence: { '0': taken.epoch } });
    const before = await base.positions('counts@1');
    const totalBefore = await n(base, 'all');

    await log.append(purchases(40));
    await until(() => !runner.status().partitions.some((p) => p.partition === '0'), 'partition 0 dropped');
    expect(refused).toContain('LEASE_LOST');
    const inPartition1 = await countIn(log, '1', before['1']);
    expect(inPartition1).toBeGreaterThan(0);
    await until(async () => (await n(base, 'all')) === (totalBefore ?? 0) + inPartition1, 'partition 1 to go on');
    expect((await base.positions('counts@1'))['0']).toBe(before['0']);
    await runner.stop();
  });
});

/** Purchases in a partition after an offset. */
async function countIn(log: ReturnType<typeof memoryLog>, partition: string, after: string | undefined): Promise<number> {
  let total = 0;
  for await (const batch of log.read({ partitions: [partition], ...(after ? { from: { after: { [partition]: after } } } : {}) })) {
    total += batch.records.length;
  }
  return total;
}

describe('lineage', () => {
  test("without leases, a split partition's children start at once (the assignment refreshes), not at its next poll", async () => {
    // The assignment's poll timer never fires by itself: only a refresh can start the children.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const refresh = vi.spyOn(LocalAssignment.prototype, 'refresh');
    try {
      const log = memoryLog({ partitions: 1 });
      const store = memoryViewStore();
      await log.append(purchases(20));
      const runner = runView(counts, { log, store });
      await until(async () => (await n(store, 'all')) === 20, 'the events of partition 0');
      expect(refresh).not.toHaveBeenCalled();
      const children = await log.split('0');
      await log.append(purchases(20));
      const building = () =>
        runner
          .status()
          .partitions.map((p) => p.partition)
          .sort();
      await until(
        () =>
          building().join() ===
          children
            .map((c) => c.id)
            .sort()
            .join(),
        'the children started',
      );
      expect(refresh).toHaveBeenCalled();
      await until(async () => (await n(store, 'all')) === 40, 'the events of the children');
      expect((await store.positions('counts@1'))['0']).toBe(PARTITION_END);
      await runner.stop();
    } finally {
      refresh.mockRestore();
      vi.useRealTimers();
    }
  });

  test('a split partition is finished (checkpoint end), then its children are picked up; every event folded once', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    const events = purchases(200);
    await log.append(events.slice(0, 100));
    const runner = runView(counts, { log, store });
    await runner.caughtUp();
    const children = await log.split('0');
    await log.append(events.slice(100));
    await runner.caughtUp();
    const positions = await store.positions('counts@1');
    expect(positions['0']).toBe(PARTITION_END);
    for (const child of children) expect(positions[child.id]).toBeDefined();
    expect(
      runner
        .status()
        .partitions.map((p) => p.partition)
        .sort(),
    ).toEqual(['1', ...children.map((c) => c.id)].sort());
    await runner.stop();
    expect(await n(store, 'all')).toBe(200);
    for (let p = 0; p < 20; p++) expect(await n(store, `p${p}`)).toBe(10);
  });
});

describe('caughtUp()', () => {
  test('waits for the partitions other processes build, and resolves with the checkpoint of all of them', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const leases = memoryLeaseStore();
    const a = runView(counts, { log, store, leases: { store: leases, owner: 'a', ttlMs: 2_000 } });
    const b = runView(counts, { log, store, leases: { store: leases, owner: 'b', ttlMs: 2_000 } });
    await until(() => a.status().partitions.length === 2 && b.status().partitions.length === 2, 'a 2/2 split', 10_000);
    await log.append(purchases(500));
    const positions = await a.caughtUp();
    expect(Object.keys(positions).sort()).toEqual(['0', '1', '2', '3']);
    expect(await n(store, 'all')).toBe(500);
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('options', () => {
  test('misspelled or unknown options are INVALID_OPTION naming the closest known name', () => {
    const log = memoryLog();
    const store = memoryViewStore();
    const deadLetters = { send: async () => {} };
    expect(() => runView(counts, { log, store, deadLetter: deadLetters } as never)).toThrow(
      /unknown option "deadLetter"; did you mean "deadLetters"/,
    );
    expect(() => runView(counts, { log, store, maxBatch: 10 } as never)).toThrow(/unknown option "maxBatch"/);
    expect(() => runView(counts, { log, store, leases: { store: memoryLeaseStore(), ttl: 5_000 } } as never)).toThrow(
      /leases: unknown option "ttl"; did you mean "ttlMs"/,
    );
    expect(() => runView(counts, { log, store, batchSize: 0 })).toThrow(/batchSize must be a whole number ≥ 1, got 0/);
    expect(() => runView(counts, { log, store, onUnreadable: 'skip' } as never)).toThrow(/onUnreadable must be 'stop' or 'dead-letter'/);
    expect(() => runView(counts, { log } as never)).toThrow(/store must be given/);
    try {
      runView(counts, { log, store, deadLetter: deadLetters } as never);
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_OPTION' });
    }
    expect(() => defineView({ ...countsSpec(), idWindow: -1 })).toThrow(/idWindow must be a whole number ≥ 0/);
  });
});

function countsSpec() {
  return { name: 'x', version: 1, catalog, initial: { n: 0 }, apply: { 'product/purchase': (row: { n: number }) => ({ n: row.n + 1 }) } };
}

describe('openView', () => {
  test('lists a page at a time with a cursor (100 rows by default), every row with all(), and refuses an unknown index', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    await log.append(
      Array.from({ length: 250 }, (_, i) => created(`p${String(i).padStart(3, '0')}`, `Name ${i % 7}`, i % 2 ? 'shoes' : 'coats')),
    );
    const runner = runView(productsView, { log, store });
    await runner.caughtUp();
    await runner.stop();
    const products = openView(productsView, store);
    const first = await products.list();
    expect(first.rows).toHaveLength(100);
    expect(first.rows[0]?.key).toBe('p000');
    const second = await products.list({ cursor: first.cursor as string });
    expect(second.rows[0]?.key).toBe('p100');
    const shoes = [];
    for await (const row of products.all({ index: 'byCategory', prefix: ['shoes'], limit: 30 })) shoes.push(row);
    expect(shoes).toHaveLength(125);
    expect(shoes.every((row) => row.value.category === 'shoes')).toBe(true);
    let all = 0;
    for await (const _ of products.all()) all++;
    expect(all).toBe(250);
    await expect(products.list({ index: 'byName' as never })).rejects.toMatchObject({
      code: 'UNKNOWN_INDEX',
      message: expect.stringMatching(/products@1 has no index "byName"; it declares "byCategory"/),
    });
    await expect(products.list({ limt: 5 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/"limit"/),
    });
  });
});
