import {
  type Envelope,
  type EventLog,
  memoryDeadLetters,
  memoryLeaseStore,
  memoryLog,
  memoryViewStore,
  type ViewStore,
} from '@riverlog/core';
import { until } from '@riverlog/testing';
import { describe, expect, test } from 'vitest';
import { defineView, del } from './define-view.js';
import { openView } from './open-view.js';
import type { ViewCommitInfo } from './options.js';
import { created, imaged, login, purchased } from './retail.fixture.js';
import { runView } from './run-view.js';
import type { SkippedRecord } from './skips.js';
import { failing, withRecords } from './test-logs.fixture.js';
import { productsView, tallyView, winnerView } from './views.fixture.js';

/** Events for `count` products: create, image and purchases, spread over subjects. */
function shopEvents(count: number): Envelope[] {
  const events: Envelope[] = [];
  for (let i = 0; i < count; i++) events.push(created(`p${i}`, `Product ${String(i).padStart(4, '0')}`, `cat${i % 3}`));
  for (let i = 0; i < count; i += 2) events.push(imaged(`p${i}`, `https://img.example/p${i}.jpg`));
  for (let i = 0; i < count; i++) for (let k = 0; k < i % 4; k++) events.push(purchased(`p${i}`));
  return events;
}

/** The tally a pure fold of the events gives, per subject. */
function pureTally(events: readonly Envelope[]): Map<string, { count: number; sum: number; last: string }> {
  const rows = new Map<string, { count: number; sum: number; last: string }>();
  for (const event of events) {
    const row = rows.get(event.subject) ?? { count: 0, sum: 0, last: '' };
    const data = event.data as { name?: string; image?: string };
    const add =
      event.type === 'product/create' ? (data.name as string).length : event.type === 'product/image' ? (data.image as string).length : 1;
    if (event.type === 'user-info/login') continue;
    rows.set(event.subject, { count: row.count + 1, sum: row.sum + add, last: event.id });
  }
  return rows;
}

async function tallyRows(store: ViewStore, subjects: Iterable<string>) {
  const rows = await openView(tallyView, store).getMany([...subjects]);
  return new Map([...rows].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('runView', () => {
  test('builds a products view: by id and by category sorted by name, and switches the alias once caught up', async () => {
    const log = memoryLog({ partitions: 3 });
    const store = memoryViewStore();
    await log.append([
      created('p1', 'Clog', 'shoes'),
      created('p2', 'Anorak', 'coats'),
      created('p3', 'Boot', 'shoes'),
      imaged('p3', 'https://img.example/boot.jpg'),
      imaged('p9', 'https://img.example/orphan.jpg'),
      login('u1', 'Ann'),
    ]);
    const runner = runView(productsView, { log, store });
    await runner.caughtUp();
    const products = openView(productsView, store);
    expect(await products.get('p3')).toEqual({ id: 'p3', name: 'Boot', category: 'shoes', image: 'https://img.example/boot.jpg' });
    expect(await products.get('p9')).toBeUndefined(); // an image of an unknown product creates no row
    expect((await products.list({ index: 'byCategory', prefix: ['shoes'] })).rows.map((r) => r.value.name)).toEqual(['Boot', 'Clog']);
    expect((await products.list({ index: 'byCategory', reverse: true, limit: 2 })).rows.map((r) => r.key)).toEqual(['p1', 'p3']);
    await until(async () => (await store.alias('products')) === 'products@1', 'the alias');
    await runner.stop();
  });

  test('folds several events of one row in a batch and writes the row once', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes'), purchased('p1'), purchased('p1'), imaged('p1', 'https://i/1'), purchased('p1')]);
    const commits: ViewCommitInfo[] = [];
    const runner = runView(tallyView, { log, store, onCommit: (info) => commits.push(info) });
    await runner.caughtUp();
    await runner.stop();
    expect(commits).toEqual([expect.objectContaining({ records: 5, applied: 5, rows: 1, to: { '0': '4' } })]);
    expect(await store.get('tally@1', 'p1')).toMatchObject({ count: 5 });
  });

  test('folds batches that are already there into one commit across partitions, up to commitSize', async () => {
    const log = memoryLog({ partitions: 3 });
    const store = memoryViewStore();
    const events = shopEvents(30);
    await log.append(events);
    const commits: ViewCommitInfo[] = [];
    const runner = runView(tallyView, { log, store, batchSize: 4, commitSize: 20, onCommit: (info) => commits.push(info) });
    await runner.caughtUp();
    await runner.stop();
    expect(commits.reduce((sum, c) => sum + c.records, 0)).toBe(events.length);
    expect(commits.length).toBeLessThan(Math.ceil(events.length / 4));
    expect(commits.slice(0, -1).every((c) => c.records >= 20 && c.records < 24)).toBe(true);
    expect(commits.some((c) => Object.keys(c.to).length > 1)).toBe(true);
    const expected = pureTally(events);
    expect(await tallyRows(store, expected.keys())).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });

  test('follows the log after catching up', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    const runner = runView(tallyView, { log, store });
    await runner.caughtUp();
    await log.append([created('p1', 'Boot', 'shoes'), purchased('p1')]);
    await runner.caughtUp();
    expect(await store.get('tally@1', 'p1')).toMatchObject({ count: 2 });
    await log.append([purchased('p1')]);
    await until(async () => ((await store.get('tally@1', 'p1')) as { count: number }).count === 3, 'the third event');
    await runner.stop();
    await expect(runner.caughtUp()).rejects.toThrow(/stopped/);
  });

  test('caughtUp() gives up with CAUGHT_UP_TIMEOUT after timeoutMs or when its signal aborts, naming what is behind; the view goes on', async () => {
    const log = memoryLog({ partitions: 1 });
    const memory = memoryViewStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Commits wait for the gate: the view cannot catch up until it opens.
    const store: ViewStore = { ...memory, limits: memory.limits, commit: (table, commit) => gate.then(() => memory.commit(table, commit)) };
    await log.append([created('p1', 'Boot', 'shoes'), purchased('p1')]);
    const runner = runView(tallyView, { log, store, switchAlias: false });
    await until(() => (runner.status().lag['0'] as { records?: number } | undefined)?.records === 0, 'the read to reach the end');
    await expect(runner.caughtUp({ timeoutMs: 100 })).rejects.toMatchObject({
      code: 'CAUGHT_UP_TIMEOUT',
      message: expect.stringContaining('its time ran out; still behind on partition 0 (at nothing, end 1)'),
    });
    const controller = new AbortController();
    const aborted = runner.caughtUp({ signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'CAUGHT_UP_TIMEOUT', message: expect.stringContaining('its signal was aborted') });
    expect(runner.status().state).toBe('running');
    release();
    expect(await runner.caughtUp({ timeoutMs: 5000 })).toEqual({ '0': '1' });
    await runner.stop();
  });

  test('caughtUp() called at once (and the alias switch waiting for it) reads the backlog once, not once more to find its end', async () => {
    const inner = memoryLog({ partitions: 4 });
    const events = shopEvents(60);
    await inner.append(events);
    let read = 0;
    const log = withRecords(inner, (record) => {
      read++;
      return record;
    });
    // A store slow to create the table: caughtUp() is asked before the runner holds any partition.
    const memory = memoryViewStore();
    const store: ViewStore = {
      ...memory,
      limits: memory.limits,
      createTable: async (table, spec) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return memory.createTable(table, spec);
      },
    };
    const runner = runView(tallyView, { log, store, batchSize: 10 });
    await runner.caughtUp();
    await runner.stop();
    expect(read).toBe(events.length);
  });

  test('restarting resumes from the checkpoint without applying anything twice', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const events = shopEvents(60);
    await log.append(events.slice(0, 100));
    const first = runView(tallyView, { log, store, batchSize: 7, commitSize: 7 });
    await first.caughtUp();
    await first.stop();
    await log.append(events.slice(100));
    const second = runView(tallyView, { log, store, batchSize: 7, commitSize: 7 });
    await second.caughtUp();
    await second.stop();
    const expected = pureTally(events);
    expect(await tallyRows(store, expected.keys())).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });

  test('commits that fail are redelivered and still applied exactly once', async () => {
    const log = memoryLog({ partitions: 3 });
    const inner = memoryViewStore();
    let calls = 0;
    const flaky: ViewStore = {
      ...inner,
      commit: async (table, commit) => {
        if (++calls % 3 === 0) throw new Error('disk hiccup');
        if (calls % 5 === 0) {
          await inner.commit(table, commit);
          throw new Error('lost the acknowledgement'); // written, but the builder does not know
        }
        return inner.commit(table, commit);
      },
    };
    const events = shopEvents(40);
    await log.append(events);
    const runner = runView(tallyView, { log, store: flaky, batchSize: 5, commitSize: 5 });
    await runner.caughtUp();
    await runner.stop();
    const expected = pureTally(events);
    expect(await tallyRows(inner, expected.keys())).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
    expect(calls).toBeGreaterThan(10);
  });

  test('two builders on one store without leases: the commit guard keeps the effect exactly once', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    const events = shopEvents(50);
    const a = runView(tallyView, { log, store, batchSize: 3, commitSize: 3 });
    const b = runView(tallyView, { log, store, batchSize: 3, commitSize: 3 });
    for (let i = 0; i < events.length; i += 10) await log.append(events.slice(i, i + 10));
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    await Promise.all([a.stop(), b.stop()]);
    const expected = pureTally(events);
    expect(await tallyRows(store, expected.keys())).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });

  test('a record that is not an envelope is skipped, reported with the reason, and the checkpoint moves past it', async () => {
    const inner = memoryLog({ partitions: 1 });
    await inner.append([created('p1', 'Boot', 'shoes'), purchased('p1'), purchased('p1')]);
    const log = withRecords(inner, (record) =>
      record.position.offset === '1' ? { position: record.position, event: undefined, raw: '{"not json', error: 'not JSON' } : record,
    );
    const store = memoryViewStore();
    const skipped: SkippedRecord[] = [];
    const deadLetters = memoryDeadLetters();
    const runner = runView(tallyView, { log, store, onSkip: (s) => void skipped.push(s), deadLetters });
    const positions = await runner.caughtUp();
    await runner.stop();
    expect(positions).toEqual({ '0': '2' });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ view: 'tally@1', code: 'DECODE_FAILED', record: { position: { partition: '0', offset: '1' } } });
    expect(skipped[0]?.reason).toMatch(/offset 1.*not JSON/);
    expect(deadLetters.letters).toEqual([expect.objectContaining({ group: 'tally@1', code: 'DECODE_FAILED' })]);
    expect(await store.get('tally@1', 'p1')).toMatchObject({ count: 2 });
    expect(await store.positions('tally@1')).toEqual({ '0': '2' });
  });

  test('a handler that throws skips its whole event (no partial changes) and reports it', async () => {
    const view = defineView({
      name: 'fragile',
      version: 1,
      catalog: productsView.catalog,
      initial: { n: 0 },
      key: (event) => [event.data.id, 'total'],
      apply: {
        'product/create': (row, event, ctx) => {
          if (ctx.key === 'total' && event.data.name === 'Bomb') throw new Error('boom');
          return { n: row.n + 1 };
        },
        'product/purchase': (row, event, ctx) => (ctx.key === event.data.id ? del : row),
      },
    });
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes'), created('p2', 'Bomb', 'x'), created('p3', 'Clog', 'shoes'), purchased('p3')]);
    const skipped: SkippedRecord[] = [];
    const runner = runView(view, { log, store, onSkip: (s) => void skipped.push(s) });
    await runner.caughtUp();
    await runner.stop();
    expect(skipped.map((s) => [s.code, s.record.position.offset])).toEqual([['APPLY_FAILED', '1']]);
    expect(skipped[0]?.reason).toMatch(/apply\["product\/create"\] threw .* offset 1: boom/);
    const rows = await openView(view, store).getMany(['p1', 'p2', 'p3', 'total']);
    expect(Object.fromEntries(rows)).toEqual({ p1: { n: 1 }, total: { n: 2 } }); // p2 untouched, p3 deleted
  });

  test('a multi-entity view credits creator and photographer from the product row', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const shop = (creator: string, photographer: string | undefined, id: string, before: number, after: number) => [
      created(id, id, 'c', creator),
      ...Array.from({ length: before }, () => purchased(id)),
      ...(photographer ? [imaged(id, `https://i/${id}`, photographer)] : []),
      ...Array.from({ length: after }, () => purchased(id)),
    ];
    await log.append([
      ...shop('ann', 'pat', 'p1', 2, 3),
      ...shop('bob', 'pat', 'p2', 0, 1),
      ...shop('ann', 'quinn', 'p3', 1, 1),
      ...shop('bob', undefined, 'p4', 4, 0),
      purchased('unknown'),
    ]);
    const runner = runView(winnerView, { log, store, batchSize: 3, commitSize: 6 });
    await runner.caughtUp();
    await runner.stop();
    const winner = openView(winnerView, store);
    const creators = await winner.list({ index: 'byScore', prefix: ['creator'], reverse: true });
    expect(creators.rows.map((r) => r.value)).toEqual([
      { kind: 'person', id: 'ann', role: 'creator', score: 7 },
      { kind: 'person', id: 'bob', role: 'creator', score: 5 },
    ]);
    const [top] = (await winner.list({ index: 'byScore', prefix: ['photographer'], reverse: true, limit: 1 })).rows;
    expect(top?.value).toEqual({ kind: 'person', id: 'pat', role: 'photographer', score: 4 });
    expect(await winner.get('person:photographer:quinn')).toMatchObject({ score: 1 });
    expect(await winner.get('product:unknown')).toBeUndefined();
  });

  test('with leases, two builders share the partitions and one takes over when the other dies', async () => {
    const log = memoryLog({ partitions: 4 });
    const store = memoryViewStore();
    const leases = memoryLeaseStore();
    const events = shopEvents(80);
    await log.append(events.slice(0, 120));
    const a = runView(tallyView, { log, store, leases: { store: leases, owner: 'a', ttlMs: 300 }, batchSize: 4, commitSize: 4 });
    const b = runView(tallyView, { log, store, leases: { store: leases, owner: 'b', ttlMs: 300 }, batchSize: 4, commitSize: 4 });
    await until(() => a.status().partitions.length === 2 && b.status().partitions.length === 2, 'an even split');
    await Promise.all([a.caughtUp(), b.caughtUp()]);
    await b.stop();
    await log.append(events.slice(120));
    await a.caughtUp();
    await until(() => a.status().partitions.length === 4, 'a to take over every partition');
    await a.stop();
    const expected = pureTally(events);
    expect(await tallyRows(store, expected.keys())).toEqual(new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
  });

  test('stops on an index bug with a clear error', async () => {
    const view = defineView({
      name: 'badindex',
      version: 1,
      catalog: productsView.catalog,
      initial: { name: '' },
      apply: { 'product/create': (_row, event) => ({ name: event.data.name }) },
      indexes: { byName: (row) => [row.name, Number.NaN] },
    });
    const log: EventLog = memoryLog({ partitions: 1 });
    await log.append([created('p1', 'Boot', 'shoes')]);
    const errors: unknown[] = [];
    const runner = runView(view, { log, store: memoryViewStore(), onError: (e) => errors.push(e) });
    await expect(runner.caughtUp()).rejects.toThrow(/badindex@1: computing the indexes of row "p1" failed: indexes.byName must return/);
    await expect(runner.done).rejects.toMatchObject({ code: 'VIEW_INDEX_FAILED' });
    expect(errors).toHaveLength(1);
  });

  test('refuses to run on a table built with another id window (the window of a version is fixed: a new version changes it)', async () => {
    const log: EventLog = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([purchased('p1')]);
    // The version's table as a build with idWindow 0 left it.
    await store.createTable(tallyView.table, { indexes: tallyView.indexNames, idWindow: 0 });
    const second = runView(tallyView, { log, store });
    await expect(second.done).rejects.toMatchObject({
      code: 'INVALID_VIEW',
      message: expect.stringMatching(/id window of 0 ids, not 100000/),
    });
  });

  test('stops when its signal aborts', async () => {
    const controller = new AbortController();
    const runner = runView(tallyView, { log: memoryLog(), store: memoryViewStore(), signal: controller.signal });
    await runner.caughtUp();
    controller.abort();
    await expect(runner.done).resolves.toBeUndefined();
  });

  test('stop() returns at once while it waits to retry a failure', async () => {
    // A store that is down: every call fails, so the view backs off longer and longer.
    const down = failing(memoryViewStore(), () => true);
    let pause = 0;
    const runner = runView(tallyView, { log: memoryLog(), store: down, switchAlias: false, onRetry: (retry) => (pause = retry.delayMs) });
    // Counted in the view's own retries (one attempt may make several store calls): it now waits 0.8 s or more.
    await until(() => pause >= 800, 'a pause of at least 800 ms before the next attempt', 10_000);
    const started = performance.now();
    await runner.stop();
    // Not waiting out the pause; the bound leaves room for a machine busy with other tests.
    expect(performance.now() - started).toBeLessThan(600);
    await expect(runner.done).resolves.toBeUndefined();
  });
});
