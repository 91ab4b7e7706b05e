import { type Fence, type PositionMap, RiverlogError, type RowWrite, type ViewCommit, type ViewStore } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** What a contract factory hands the suite: a fresh, empty store, and how to dispose of it. */
export interface ViewStoreUnderTest {
  /** A new, empty store. The suite closes it after each test. */
  readonly store: ViewStore;
  /** Removes what the store left behind (files, tables). Runs after the store is closed. */
  readonly cleanup?: () => Promise<void>;
  /** Opens the same storage again after `store` was closed (durable stores): the suite checks what survives. */
  readonly reopen?: () => Promise<ViewStore>;
}

export interface ViewStoreContractOptions {
  /**
   * Whether a commit is written atomically (default true). A store without
   * multi-item transactions (DynamoDB) passes false: a refused commit may
   * then have written its other guarded rows, but never the refused row,
   * its ids or its checkpoint.
   */
  readonly transactional?: boolean;
  /**
   * Whether the store keeps its data across close and reopen (its factory
   * then returns `reopen`). Default true; false for in-process stores, whose
   * reopen test is then not registered at all.
   */
  readonly durable?: boolean;
}

const TABLE = 'things@1';

async function rejectionOf(run: () => Promise<unknown>): Promise<RiverlogError> {
  let failure: unknown;
  try {
    await run();
  } catch (error) {
    failure = error;
  }
  if (failure === undefined) throw new Error('expected a rejection, but the call succeeded');
  expect(failure).toBeInstanceOf(RiverlogError);
  return failure as RiverlogError;
}

/** Runs `run`, expects a `RiverlogError` with `code` whose message names each of `mentions`. */
async function refused(run: () => Promise<unknown>, code: string, mentions: readonly string[] = []): Promise<RiverlogError> {
  const error = await rejectionOf(run);
  expect(error.code, error.message).toBe(code);
  for (const text of mentions) expect(error.message).toContain(text);
  return error;
}

function put(key: string, value: unknown, expectedVersion: number, extra: Partial<RowWrite> = {}): RowWrite {
  return { key, value, applied: { '0': String(expectedVersion + 1) }, expectedVersion, ...extra };
}

function commitOf(rows: readonly RowWrite[], more: { ids?: string[]; positions?: PositionMap; fence?: Fence } = {}): ViewCommit {
  return { rows, ids: more.ids ?? [], positions: more.positions ?? {}, ...(more.fence ? { fence: more.fence } : {}) };
}

/**
 * The behaviour every `ViewStore` must show, as a vitest suite: row guards
 * and tombstones, the id window, fenced commits and claims, compare-and-set
 * aliases, drop, paged lists, declared indexes and limits. It asserts only
 * what the port promises, so stores without transactions run it too
 * (`transactional: false`).
 *
 * @example
 * import { memoryViewStore } from '@riverlog/core';
 * import { describeViewStoreContract } from '@riverlog/testing';
 *
 * describeViewStoreContract('memory view store', async () => ({ store: memoryViewStore() }));
 */
export function describeViewStoreContract(
  name: string,
  factory: () => Promise<ViewStoreUnderTest>,
  options: ViewStoreContractOptions = {},
): void {
  const transactional = options.transactional ?? true;
  const durable = options.durable ?? true;

  describe(`ViewStore contract: ${name}`, () => {
    let subject: ViewStoreUnderTest;
    let store: ViewStore;
    const opened: ViewStore[] = [];

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
      await store.createTable(TABLE, { indexes: ['byName', 'byScore'], idWindow: 1000 });
    });
    afterEach(async () => {
      for (const other of opened.splice(0)) await other.close();
      await store.close();
      await subject.cleanup?.();
    });

    describe('limits and tables', () => {
      it('declares its limits as positive integers', () => {
        expect(Number.isSafeInteger(store.limits.maxRowsPerCommit) && store.limits.maxRowsPerCommit > 0).toBe(true);
        expect(Number.isSafeInteger(store.limits.maxRowBytes) && store.limits.maxRowBytes > 0).toBe(true);
      });

      it('takes a row of maxRowBytes and refuses a larger one with ROW_TOO_LARGE, writing nothing of the commit', async () => {
        const max = store.limits.maxRowBytes;
        const fits = 'x'.repeat(max - 2); // a JSON string: two quotes
        await store.commit(TABLE, commitOf([put('big', fits, 0)]));
        expect(((await store.get(TABLE, 'big')) as string).length).toBe(max - 2);
        const error = await refused(
          () =>
            store.commit(TABLE, commitOf([put('small', 1, 0), put('too-big', `${fits}y`, 0)], { ids: ['e1'], positions: { '0': '9' } })),
          'ROW_TOO_LARGE',
          [TABLE, 'too-big', String(max + 1)],
        );
        expect(error.message).toContain(String(max));
        expect(await store.rows(TABLE, ['small', 'too-big'])).toEqual(new Map());
        expect(await store.seen(TABLE, ['e1'])).toEqual(new Set());
        expect(await store.positions(TABLE)).toEqual({});
      });

      it('measures a row in UTF-8 bytes of its JSON', async () => {
        const chars = Math.ceil(store.limits.maxRowBytes / 2); // 2 bytes each: fewer characters than the limit, more bytes
        await refused(() => store.commit(TABLE, commitOf([put('wide', 'é'.repeat(chars), 0)])), 'ROW_TOO_LARGE', [
          'wide',
          String(chars * 2 + 2),
        ]);
        expect(await store.rows(TABLE, ['wide'])).toEqual(new Map());
      });

      it('takes maxRowsPerCommit rows in one commit and refuses one more, writing nothing', async () => {
        const max = store.limits.maxRowsPerCommit;
        const rows = Array.from({ length: max }, (_, i) => put(`r${i}`, i, 0));
        await store.commit(TABLE, commitOf(rows, { positions: { '0': '1' } }));
        expect((await store.rows(TABLE, [`r${max - 1}`])).get(`r${max - 1}`)?.version).toBe(1);
        await refused(
          () => store.commit(TABLE, commitOf([...rows.map((row) => ({ ...row, expectedVersion: 1 })), put('one-more', 1, 0)])),
          'COMMIT_TOO_LARGE',
          [TABLE, String(max)],
        );
        expect((await store.rows(TABLE, ['r0'])).get('r0')?.version).toBe(1);
      });

      it('createTable is idempotent (indexes in any order) and refuses other indexes with INVALID_VIEW', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)]));
        await store.createTable(TABLE, { indexes: ['byScore', 'byName'], idWindow: 1000 });
        expect(await store.get(TABLE, 'a')).toBe(1);
        await refused(() => store.createTable(TABLE, { indexes: ['byName'], idWindow: 1000 }), 'INVALID_VIEW', [TABLE, 'byScore']);
        await refused(() => store.createTable(TABLE, { indexes: ['byName', 'byScore', 'byAge'], idWindow: 1000 }), 'INVALID_VIEW', [
          'byAge',
        ]);
      });

      it('refuses an existing table with another id window (INVALID_VIEW), so duplicates are never folded under a window the table does not keep', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)], { ids: ['e1'] }));
        await refused(() => store.createTable(TABLE, { indexes: ['byName', 'byScore'], idWindow: 0 }), 'INVALID_VIEW', [
          TABLE,
          '1000',
          '0',
        ]);
        await refused(() => store.createTable(TABLE, { indexes: ['byName', 'byScore'], idWindow: 5000 }), 'INVALID_VIEW', ['1000', '5000']);
        // Still the table it was: its window still knows e1.
        expect(await store.seen(TABLE, ['e1', 'e2'])).toEqual(new Set(['e1']));
      });

      it('refuses a commit to a table that was never created', async () => {
        await refused(() => store.commit('nowhere@1', commitOf([put('a', 1, 0)])), 'UNKNOWN_VIEW_TABLE', ['nowhere@1']);
      });

      it('reads of a table never created are empty', async () => {
        expect(await store.get('nowhere@1', 'a')).toBeUndefined();
        expect(await store.rows('nowhere@1', ['a'])).toEqual(new Map());
        expect(await store.positions('nowhere@1')).toEqual({});
        expect(await store.seen('nowhere@1', ['e'])).toEqual(new Set());
        expect((await store.list('nowhere@1')).rows).toEqual([]);
      });

      it('stores values as JSON: what it returns is a copy', async () => {
        const value = { name: 'Boot', tags: ['a'], nested: { n: 1.5 }, none: null };
        await store.commit(TABLE, commitOf([put('p', value, 0)]));
        value.tags.push('changed');
        const read = (await store.get(TABLE, 'p')) as typeof value;
        expect(read).toEqual({ name: 'Boot', tags: ['a'], nested: { n: 1.5 }, none: null });
        read.tags.push('mine');
        expect(await store.get(TABLE, 'p')).toEqual({ name: 'Boot', tags: ['a'], nested: { n: 1.5 }, none: null });
      });
    });

    describe('row guards', () => {
      it('a new row gets version 1, each write adds one, and rows() returns what it applied', async () => {
        await store.commit(TABLE, commitOf([{ key: 'a', value: 'one', applied: { '0': '3', '1': '7' }, expectedVersion: 0 }]));
        expect((await store.rows(TABLE, ['a'])).get('a')).toEqual({ key: 'a', value: 'one', applied: { '0': '3', '1': '7' }, version: 1 });
        await store.commit(TABLE, commitOf([{ key: 'a', value: 'two', applied: { '0': '4', '1': '7' }, expectedVersion: 1 }]));
        expect((await store.rows(TABLE, ['a'])).get('a')).toEqual({ key: 'a', value: 'two', applied: { '0': '4', '1': '7' }, version: 2 });
      });

      it('two writers read version 1: the first wins, the second gets CONFLICT naming the row, and its checkpoint does not move', async () => {
        await store.commit(TABLE, commitOf([put('total', 1, 0)], { positions: { '0': '1' } }));
        const readByA = (await store.rows(TABLE, ['total'])).get('total');
        const readByB = (await store.rows(TABLE, ['total'])).get('total');
        expect(readByA?.version).toBe(1);
        await store.commit(TABLE, commitOf([put('total', 2, readByA?.version ?? -1)], { positions: { '0': '2' } }));
        await refused(
          () => store.commit(TABLE, commitOf([put('total', 5, readByB?.version ?? -1)], { ids: ['b-1'], positions: { '1': '9' } })),
          'CONFLICT',
          [TABLE, 'total'],
        );
        expect(await store.get(TABLE, 'total')).toBe(2);
        expect((await store.rows(TABLE, ['total'])).get('total')?.version).toBe(2);
        expect(await store.positions(TABLE)).toEqual({ '0': '2' });
        expect(await store.seen(TABLE, ['b-1'])).toEqual(new Set());
      });

      it('refuses a new row over an existing one, and a write to a version that does not exist', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)]));
        await refused(() => store.commit(TABLE, commitOf([put('a', 9, 0)])), 'CONFLICT', ['a']);
        await refused(() => store.commit(TABLE, commitOf([put('b', 9, 3)])), 'CONFLICT', ['b']);
        expect(await store.get(TABLE, 'a')).toBe(1);
        expect(await store.rows(TABLE, ['b'])).toEqual(new Map());
      });

      it('a conflicting row is never written, and the others only by a store without transactions', async () => {
        await store.commit(TABLE, commitOf([put('x', 'x1', 0), put('y', 'y1', 0)], { positions: { '0': '1' } }));
        await refused(
          () =>
            store.commit(
              TABLE,
              commitOf([put('x', 'x2', 1), put('new', 'n1', 0), put('y', 'y-lost', 7)], { ids: ['e-9'], positions: { '0': '2' } }),
            ),
          'CONFLICT',
          ['"y"'],
        );
        expect(await store.get(TABLE, 'y')).toBe('y1');
        expect(await store.positions(TABLE)).toEqual({ '0': '1' });
        expect(await store.seen(TABLE, ['e-9'])).toEqual(new Set());
        if (transactional) {
          expect(await store.get(TABLE, 'x')).toBe('x1');
          expect(await store.rows(TABLE, ['new'])).toEqual(new Map());
        }
      });

      it('a tombstone keeps its version and what it applied, is hidden from get and list, and is guarded like a row', async () => {
        await store.commit(TABLE, commitOf([put('a', { name: 'A' }, 0, { indexes: { byName: ['A'] } }), put('b', { name: 'B' }, 0)]));
        await store.commit(TABLE, commitOf([{ key: 'a', value: undefined, applied: { '0': '5' }, expectedVersion: 1 }]));
        expect(await store.get(TABLE, 'a')).toBeUndefined();
        expect((await store.rows(TABLE, ['a'])).get('a')).toEqual({ key: 'a', value: undefined, applied: { '0': '5' }, version: 2 });
        expect((await store.list(TABLE)).rows.map((r) => r.key)).toEqual(['b']);
        expect((await store.list(TABLE, { index: 'byName' })).rows).toEqual([]);
        await refused(() => store.commit(TABLE, commitOf([put('a', 'again', 0)])), 'CONFLICT', ['a']);
        await store.commit(TABLE, commitOf([put('a', 'again', 2)]));
        expect((await store.rows(TABLE, ['a'])).get('a')).toMatchObject({ value: 'again', version: 3 });
      });

      it('rows() reads many keys at once, tombstones included and absent keys left out', async () => {
        const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
        await store.commit(TABLE, commitOf(keys.map((key, i) => put(key, i, 0))));
        await store.commit(TABLE, commitOf([{ key: 'k7', value: undefined, applied: {}, expectedVersion: 1 }]));
        const found = await store.rows(TABLE, [...keys, 'absent-1', 'absent-2']);
        expect(found.size).toBe(2500);
        expect(found.get('k2499')).toEqual({ key: 'k2499', value: 2499, applied: { '0': '1' }, version: 1 });
        expect(found.get('k7')).toMatchObject({ value: undefined, version: 2 });
        expect(found.has('absent-1')).toBe(false);
      });
    });

    describe('event ids', () => {
      it('seen() returns the ids folded, and a commit naming one again is a CONFLICT that moves nothing', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)], { ids: ['e1', 'e2'], positions: { '0': '2' } }));
        expect(await store.seen(TABLE, ['e0', 'e1', 'e2', 'e3'])).toEqual(new Set(['e1', 'e2']));
        await refused(() => store.commit(TABLE, commitOf([put('b', 1, 0)], { ids: ['e3', 'e2'], positions: { '0': '5' } })), 'CONFLICT', [
          TABLE,
          'e2',
        ]);
        expect(await store.positions(TABLE)).toEqual({ '0': '2' });
        expect(await store.seen(TABLE, ['e3'])).toEqual(new Set());
        if (transactional) expect(await store.get(TABLE, 'b')).toBeUndefined();
      });

      it('an id listed twice in one commit is a CONFLICT', async () => {
        await refused(() => store.commit(TABLE, commitOf([], { ids: ['d1', 'd2', 'd1'], positions: { '0': '1' } })), 'CONFLICT', ['d1']);
        expect(await store.positions(TABLE)).toEqual({});
      });

      it('keeps the newest idWindow ids and forgets older ones', async () => {
        await store.createTable('window@1', { indexes: [], idWindow: 100 });
        const first = Array.from({ length: 100 }, (_, i) => `old-${i}`);
        await store.commit('window@1', commitOf([], { ids: first }));
        expect((await store.seen('window@1', first)).size).toBe(100);
        let newest: string[] = [];
        for (let c = 0; c < 200; c++) {
          newest = Array.from({ length: 10 }, (_, i) => `new-${c}-${i}`);
          await store.commit('window@1', commitOf([], { ids: newest, positions: { '0': String(c) } }));
        }
        const lastHundred = Array.from({ length: 100 }, (_, i) => `new-${190 + Math.floor(i / 10)}-${i % 10}`);
        expect((await store.seen('window@1', lastHundred)).size).toBe(100);
        expect(await store.seen('window@1', first)).toEqual(new Set());
        expect(newest.every((id) => lastHundred.includes(id))).toBe(true);
      });

      it('remembers no ids with idWindow 0', async () => {
        await store.createTable('no-window@1', { indexes: [], idWindow: 0 });
        await store.commit('no-window@1', commitOf([], { ids: ['e1'] }));
        await store.commit('no-window@1', commitOf([], { ids: ['e1'] }));
        expect(await store.seen('no-window@1', ['e1'])).toEqual(new Set());
      });

      it('keeps each table its own ids', async () => {
        await store.createTable('other@1', { indexes: [], idWindow: 1000 });
        await store.commit(TABLE, commitOf([], { ids: ['shared'] }));
        await store.commit('other@1', commitOf([], { ids: ['shared'] }));
        expect(await store.seen('other@1', ['shared'])).toEqual(new Set(['shared']));
      });
    });

    describe('checkpoints and fences', () => {
      it('positions merge per partition', async () => {
        expect(await store.positions(TABLE)).toEqual({});
        await store.commit(TABLE, commitOf([], { positions: { '0': '5' } }));
        await store.commit(TABLE, commitOf([], { positions: { '1': '3' } }));
        await store.commit(TABLE, commitOf([], { positions: { '0': '8' } }));
        expect(await store.positions(TABLE)).toEqual({ '0': '8', '1': '3' });
      });

      it('refuses a commit under an older epoch with LEASE_LOST, writing nothing', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)], { positions: { '0': '1' }, fence: { '0': 2 } }));
        const error = await refused(
          () =>
            store.commit(TABLE, commitOf([put('a', 2, 1), put('b', 1, 0)], { ids: ['late'], positions: { '0': '2' }, fence: { '0': 1 } })),
          'LEASE_LOST',
          [TABLE, 'partition 0'],
        );
        expect(error).toMatchObject({ partition: '0', epoch: 1, stored: 2 });
        expect(await store.get(TABLE, 'a')).toBe(1);
        expect(await store.get(TABLE, 'b')).toBeUndefined();
        expect(await store.seen(TABLE, ['late'])).toEqual(new Set());
        expect(await store.positions(TABLE)).toEqual({ '0': '1' });
        // The same epoch and a newer one pass.
        await store.commit(TABLE, commitOf([put('a', 2, 1)], { positions: { '0': '2' }, fence: { '0': 2 } }));
        await store.commit(TABLE, commitOf([put('a', 3, 2)], { positions: { '0': '3' }, fence: { '0': 3 } }));
        expect(await store.get(TABLE, 'a')).toBe(3);
      });

      it('a claim (a fence and nothing else) refuses the previous owner before the new one writes', async () => {
        await store.commit(TABLE, commitOf([], { positions: { '0': '4' }, fence: { '0': 1, '1': 1 } }));
        await store.commit(TABLE, commitOf([], { fence: { '0': 2 } }));
        await refused(() => store.commit(TABLE, commitOf([put('a', 1, 0)], { positions: { '0': '5' }, fence: { '0': 1 } })), 'LEASE_LOST', [
          'partition 0',
        ]);
        // Another partition's epoch is its own; a partition of the fence refused refuses the whole commit.
        await store.commit(TABLE, commitOf([], { positions: { '1': '7' }, fence: { '1': 1 } }));
        await refused(() => store.commit(TABLE, commitOf([], { positions: { '1': '8' }, fence: { '0': 1, '1': 1 } })), 'LEASE_LOST');
        expect(await store.positions(TABLE)).toEqual({ '0': '4', '1': '7' });
      });

      it('keeps each table its own fences', async () => {
        await store.createTable('other@1', { indexes: [], idWindow: 0 });
        await store.commit(TABLE, commitOf([], { fence: { '0': 5 } }));
        await store.commit('other@1', commitOf([], { positions: { '0': '1' }, fence: { '0': 1 } }));
        expect(await store.positions('other@1')).toEqual({ '0': '1' });
      });
    });

    describe('aliases', () => {
      it('setAlias is a compare-and-set', async () => {
        expect(await store.alias('things')).toBeUndefined();
        expect(await store.setAlias('things', 'things@1', undefined)).toBe(true);
        expect(await store.setAlias('things', 'things@9', undefined)).toBe(false);
        expect(await store.setAlias('things', 'things@2', 'things@1')).toBe(true);
        expect(await store.setAlias('things', 'things@3', 'things@1')).toBe(false);
        expect(await store.alias('things')).toBe('things@2');
        expect(await store.alias('others')).toBeUndefined();
      });
    });

    describe('drop', () => {
      it('removes rows, ids, checkpoint, fences and the table itself', async () => {
        await store.commit(TABLE, commitOf([put('a', 1, 0)], { ids: ['e1'], positions: { '0': '3' }, fence: { '0': 4 } }));
        await store.drop(TABLE);
        expect(await store.get(TABLE, 'a')).toBeUndefined();
        expect(await store.rows(TABLE, ['a'])).toEqual(new Map());
        expect(await store.seen(TABLE, ['e1'])).toEqual(new Set());
        expect(await store.positions(TABLE)).toEqual({});
        await refused(() => store.commit(TABLE, commitOf([put('a', 1, 0)])), 'UNKNOWN_VIEW_TABLE', [TABLE]);
        // Created again, with other indexes: nothing of the old table is left.
        await store.createTable(TABLE, { indexes: ['other'], idWindow: 10 });
        await store.commit(TABLE, commitOf([put('a', 'fresh', 0)], { ids: ['e1'], fence: { '0': 1 } }));
        expect((await store.rows(TABLE, ['a'])).get('a')).toMatchObject({ value: 'fresh', version: 1 });
        await store.drop('never-created@1');
      });
    });

    describe('list', () => {
      const named = (key: string, name: string, score: number): RowWrite =>
        put(key, { name, score }, 0, { indexes: { byName: [name], byScore: [score, name] } });

      it('lists by key by default, a page of 100 at most, with a cursor to the next', async () => {
        const keys = Array.from({ length: 150 }, (_, i) => `k${String(i).padStart(3, '0')}`);
        await store.commit(TABLE, commitOf([...keys].reverse().map((key) => put(key, key, 0))));
        const first = await store.list(TABLE);
        expect(first.rows.map((r) => r.key)).toEqual(keys.slice(0, 100));
        expect(first.rows[0]).toEqual({ key: 'k000', value: 'k000' });
        expect(typeof first.cursor).toBe('string');
        const second = await store.list(TABLE, { cursor: first.cursor });
        expect(second.rows.map((r) => r.key)).toEqual(keys.slice(100));
        expect(second.cursor).toBeUndefined();
      });

      it('pages an index with a prefix, forwards and in reverse, and leaves rows without a key in it out', async () => {
        await store.commit(
          TABLE,
          commitOf([
            named('p1', 'Boot', 5),
            named('p2', 'Clog', -1),
            named('p3', 'Boot', 12),
            named('p4', 'Apron', 5),
            named('p5', 'Belt', 100),
            put('p6', { name: 'unindexed' }, 0),
          ]),
        );
        const pages = async (query: { index: string; prefix?: (string | number)[]; reverse?: boolean }) => {
          const keys: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.list(TABLE, { ...query, limit: 2, cursor });
            expect(page.rows.length).toBeLessThanOrEqual(2);
            keys.push(...page.rows.map((r) => r.key));
            cursor = page.cursor;
          } while (cursor !== undefined);
          return keys;
        };
        expect(await pages({ index: 'byScore' })).toEqual(['p2', 'p4', 'p1', 'p3', 'p5']);
        expect(await pages({ index: 'byScore', reverse: true })).toEqual(['p5', 'p3', 'p1', 'p4', 'p2']);
        expect(await pages({ index: 'byName' })).toEqual(['p4', 'p5', 'p1', 'p3', 'p2']);
        expect(await pages({ index: 'byName', prefix: ['Boot'] })).toEqual(['p1', 'p3']);
        expect(await pages({ index: 'byName', prefix: ['Boot'], reverse: true })).toEqual(['p3', 'p1']);
        expect(await pages({ index: 'byScore', prefix: [5] })).toEqual(['p4', 'p1']);
        expect((await store.list(TABLE, { index: 'byName', prefix: ['Bo'] })).rows).toEqual([]);
        expect((await store.list(TABLE, { index: 'byName', prefix: ['Clog'] })).rows).toEqual([
          { key: 'p2', value: { name: 'Clog', score: -1 } },
        ]);
      });

      it('an index moves with its row: a rewritten row is listed at its new place only', async () => {
        await store.commit(TABLE, commitOf([named('p1', 'Boot', 5), named('p2', 'Clog', 6)]));
        await store.commit(TABLE, commitOf([put('p1', { name: 'Zebra', score: 5 }, 1, { indexes: { byName: ['Zebra'] } })]));
        expect((await store.list(TABLE, { index: 'byName' })).rows.map((r) => r.key)).toEqual(['p2', 'p1']);
        expect((await store.list(TABLE, { index: 'byScore' })).rows.map((r) => r.key)).toEqual(['p2']);
      });

      it('refuses an index the table did not declare with UNKNOWN_INDEX naming the table, the index and the declared ones', async () => {
        await refused(() => store.list(TABLE, { index: 'noSuchIndex' }), 'UNKNOWN_INDEX', [TABLE, 'noSuchIndex', 'byName', 'byScore']);
        await refused(() => store.commit(TABLE, commitOf([put('a', 1, 0, { indexes: { noSuchIndex: ['x'] } })])), 'UNKNOWN_INDEX', [
          'noSuchIndex',
        ]);
      });

      it('refuses a cursor it did not make and a limit below 1', async () => {
        await refused(() => store.list(TABLE, { cursor: 'not a cursor!' }), 'INVALID_OPTION', ['cursor']);
        await refused(() => store.list(TABLE, { limit: 0 }), 'INVALID_OPTION', ['limit']);
      });
    });

    it('rejects calls after close with CLOSED', async () => {
      const { store: other, cleanup } = await factory();
      await other.close();
      await refused(() => other.get(TABLE, 'a'), 'CLOSED');
      await refused(() => other.commit(TABLE, commitOf([])), 'CLOSED');
      await other.close();
      await cleanup?.();
    });

    // Not registered at all for an in-process store (CI runs must show no skips).
    (durable ? it : () => {})('keeps rows, ids, checkpoint, fences, indexes and aliases across a reopen', async () => {
      if (!subject.reopen) throw new Error(`${name}: a durable store's factory must return reopen()`);
      await store.commit(
        TABLE,
        commitOf([put('a', { name: 'A' }, 0, { indexes: { byName: ['A'] } })], { ids: ['e1'], positions: { '0': '1' }, fence: { '0': 3 } }),
      );
      await store.setAlias('things', TABLE, undefined);
      await store.close();
      store = await subject.reopen();
      expect((await store.rows(TABLE, ['a'])).get('a')).toEqual({ key: 'a', value: { name: 'A' }, applied: { '0': '1' }, version: 1 });
      expect(await store.seen(TABLE, ['e1'])).toEqual(new Set(['e1']));
      expect(await store.positions(TABLE)).toEqual({ '0': '1' });
      expect(await store.alias('things')).toBe(TABLE);
      expect((await store.list(TABLE, { index: 'byName' })).rows.map((r) => r.key)).toEqual(['a']);
      await refused(() => store.commit(TABLE, commitOf([], { fence: { '0': 2 } })), 'LEASE_LOST');
      await refused(() => store.createTable(TABLE, { indexes: ['byName'], idWindow: 1000 }), 'INVALID_VIEW');
    });
  });
}
