// Issue 8, findings 1 and 2: the effect of a view is a fold of every distinct
// event exactly once, whatever the number of runners, whatever rows several
// partitions feed, and however often an event id appears in the log.
import { type Envelope, memoryLeaseStore, memoryLog, memoryViewStore, type ViewStore } from '@riverlog/core';
import { until } from '@riverlog/testing';
import { describe, expect, test } from 'vitest';
import { changes, defineView } from './define-view.js';
import type { ViewCommitInfo } from './options.js';
import { catalog, purchased } from './retail.fixture.js';
import { runView } from './run-view.js';
import { DUPLICATE, duplicating } from './test-logs.fixture.js';

/** One row, `all`, counting every event of every partition. */
const countAllSpec = {
  name: 'count-all',
  version: 1,
  catalog,
  initial: { n: 0 },
  key: () => 'all',
  apply: { 'product/purchase': (row: { n: number }) => ({ n: row.n + 1 }) },
};
const countAll = defineView(countAllSpec);

/** Per product and in total, the purchases; the total is one row fed by every partition. */
const perProduct = defineView({
  name: 'per-product',
  version: 1,
  catalog,
  initial: { n: 0 },
  key: (event) => [event.data.id, 'total'],
  apply: { 'product/purchase': (row) => ({ n: row.n + 1 }) },
});

const count = async (store: ViewStore, table: string, key: string) => ((await store.get(table, key)) as { n: number } | undefined)?.n;

function purchases(total: number, products = 97): Envelope[] {
  return Array.from({ length: total }, (_, i) => purchased(`p${i % products}`));
}

describe('exactly-once effect', () => {
  test('8.1: two leased runners, one owning partitions 0–1 and the other 2–3, a row fed by every event: it says 4,000', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const leases = memoryLeaseStore();
    const a = runView(countAll, { log, store, leases: { store: leases, owner: 'a', ttlMs: 2_000 } });
    const b = runView(countAll, { log, store, leases: { store: leases, owner: 'b', ttlMs: 2_000 } });
    await until(() => a.status().partitions.length === 2 && b.status().partitions.length === 2, 'a 2/2 split', 10_000);
    await log.append(purchases(4_000));
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    const conflicts = a.status().conflicts + b.status().conflicts;
    await Promise.all([a.stop(), b.stop()]);
    expect(await count(store, 'count-all@1', 'all')).toBe(4_000);
    // Both folded into the one row: at least one of them had to read it again and fold again.
    expect(conflicts).toBeGreaterThan(0);
  });

  test('runners on partitions appended in turns keep every per-product row and the total right', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const leases = memoryLeaseStore();
    const options = (owner: string) => ({ log, store, leases: { store: leases, owner, ttlMs: 2_000 }, batchSize: 7, commitSize: 13 });
    const runners = [runView(perProduct, options('a')), runView(perProduct, options('b')), runView(perProduct, options('c'))];
    const events = purchases(1_500, 13);
    for (let i = 0; i < events.length; i += 100) await log.append(events.slice(i, i + 100));
    await Promise.all(runners.map((r) => r.caughtUp()));
    await Promise.all(runners.map((r) => r.stop()));
    expect(await count(store, 'per-product@1', 'total')).toBe(1_500);
    for (let p = 0; p < 13; p++) {
      expect(await count(store, 'per-product@1', `p${p}`)).toBe(events.filter((e) => e.subject === `p${p}`).length);
    }
  });

  test('8.2: the same event id appended twice at two positions is folded once', async () => {
    const inner = memoryLog({ partitions: 2 });
    const log = duplicating(inner);
    const store = memoryViewStore();
    const first = purchased('p1');
    // Within one commit: the copy is in the same read.
    await inner.append([first, purchased('p2'), { ...first, id: `${DUPLICATE}${first.id}` }]);
    const runner = runView(countAll, { log, store });
    await runner.caughtUp();
    expect(await count(store, 'count-all@1', 'all')).toBe(2);
    // In a later commit, at another position: the store's id window remembers it.
    await inner.append([purchased('p3'), { ...first, id: `${DUPLICATE}${DUPLICATE}${first.id}` }]);
    await runner.caughtUp();
    expect(await count(store, 'count-all@1', 'all')).toBe(3);
    expect(runner.status().duplicates).toBe(2);
    await runner.stop();
  });

  test('a duplicate folded by one runner is left out by another runner reading it from another partition', async () => {
    const inner = memoryLog({ partitions: 4 });
    const log = duplicating(inner);
    const store = memoryViewStore();
    const leases = memoryLeaseStore();
    const a = runView(countAll, { log, store, leases: { store: leases, owner: 'a', ttlMs: 2_000 } });
    const b = runView(countAll, { log, store, leases: { store: leases, owner: 'b', ttlMs: 2_000 } });
    await until(() => a.status().partitions.length === 2 && b.status().partitions.length === 2, 'a 2/2 split', 10_000);
    // Copies under other subjects land in other partitions, so both runners see ids the other folds.
    const events = purchases(400);
    const copies = events.filter((_, i) => i % 5 === 0).map((e, i) => ({ ...e, id: `${DUPLICATE}${e.id}`, subject: `copy-${i}` }));
    await inner.append([...events, ...copies]);
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    await Promise.all([a.stop(), b.stop()]);
    expect(await count(store, 'count-all@1', 'all')).toBe(400);
  });

  test('with idWindow 0 ids are not remembered: a copy is folded again', async () => {
    const inner = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    const first = purchased('p1');
    await inner.append([first, { ...first, id: `${DUPLICATE}${first.id}` }]);
    const countAllNoWindow = defineView({ ...countAllSpec, idWindow: 0 });
    const runner = runView(countAllNoWindow, { log: duplicating(inner), store });
    await runner.caughtUp();
    await runner.stop();
    expect(await count(store, 'count-all@1', 'all')).toBe(2);
  });

  test("commits are cut at event boundaries to fit the store's maxRowsPerCommit; an event over it goes in several", async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore({ limits: { maxRowsPerCommit: 3 } });
    const fanOut = defineView({
      name: 'fan-out',
      version: 1,
      catalog,
      initial: 0,
      key: (event) => event.data.id,
      apply: {
        'product/purchase': (n, event, view) =>
          event.data.id === 'wide' ? changes(Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, (view.get(k) ?? 0) + 1]))) : n + 1,
      },
    });
    await log.append([...purchases(20, 10), purchased('wide')]);
    const commits: ViewCommitInfo[] = [];
    const writes: number[] = [];
    const counting: ViewStore = {
      ...store,
      commit: (table, commit) => {
        writes.push(commit.rows.length);
        return store.commit(table, commit);
      },
    };
    const runner = runView(fanOut, { log, store: counting, onCommit: (info) => commits.push(info) });
    await runner.caughtUp();
    await runner.stop();
    expect(Math.max(...writes)).toBeLessThanOrEqual(3);
    expect(commits.reduce((sum, c) => sum + c.records, 0)).toBe(21);
    for (let p = 0; p < 10; p++) expect(await store.get('fan-out@1', `p${p}`)).toBe(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) expect(await store.get('fan-out@1', k)).toBe(1);
  });

  test('a row over maxRowBytes stops the view with ROW_TOO_LARGE naming view, key and size', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore({ limits: { maxRowBytes: 64 } });
    const growing = defineView({
      name: 'growing',
      version: 1,
      catalog,
      initial: '',
      apply: { 'product/purchase': (text, event) => text + event.id },
    });
    await log.append(purchases(10, 1));
    const errors: unknown[] = [];
    const runner = runView(growing, { log, store, onError: (error) => errors.push(error) });
    await expect(runner.done).rejects.toMatchObject({
      code: 'ROW_TOO_LARGE',
      message: expect.stringMatching(/growing@1, row "p0": the value is \d+ bytes/),
    });
    expect(errors).toHaveLength(1);
    expect(runner.status().state).toBe('failed');
  });
});
