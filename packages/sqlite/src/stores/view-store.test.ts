import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClosedError,
  ConflictError,
  type IndexKey,
  memoryViewStore,
  type ViewChange,
  type ViewCommit,
  type ViewQuery,
  type ViewStore,
} from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteLog } from '../log/sqlite-log.js';
import { sqliteViewStore } from './view-store.js';

let dir: string;
const stores: ViewStore[] = [];
const open = (name = 'views.db') => {
  const store = sqliteViewStore({ path: join(dir, name) });
  stores.push(store);
  return store;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-views-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqliteViewStore', () => {
  it('commits rows, indexes and the checkpoint together, and refuses a stale writer without writing', async () => {
    const store = open();
    await store.commit('products@1', {
      changes: [
        { key: 'p1', value: { name: 'Boot', price: 90 }, indexes: { byCategory: ['shoes', 'Boot'] } },
        { key: 'p2', value: { name: 'Clog' }, indexes: { byCategory: ['shoes', 'Clog'] } },
      ],
      positions: { '0': '3' },
      expected: {},
    });
    expect(await store.get('products@1', 'p1')).toEqual({ name: 'Boot', price: 90 });
    expect(await store.positions('products@1')).toEqual({ '0': '3' });
    const stale = { changes: [{ key: 'p3', value: { name: 'Sock' } }], positions: { '0': '4' }, expected: { '0': '2' } };
    const error = await store.commit('products@1', stale).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toContain('expected checkpoint 2, found 3');
    const fresh = await store.commit('products@1', { ...stale, expected: {} }).catch((e: unknown) => e);
    expect((fresh as ConflictError).message).toContain('expected no checkpoint, found 3');
    expect(await store.get('products@1', 'p3')).toBeUndefined();
    expect(await store.positions('products@1')).toEqual({ '0': '3' });
    await store.commit('products@1', { ...stale, expected: { '0': '3' } });
    expect(await store.get('products@1', 'p3')).toEqual({ name: 'Sock' });
    expect(await store.positions('products@1')).toEqual({ '0': '4' });
  });

  it('moves and removes index entries when a row is replaced or deleted', async () => {
    const store = open();
    const commit = (changes: ViewChange[]) => store.commit('t', { changes, positions: {}, expected: {} });
    await commit([{ key: 'a', value: 1, indexes: { byX: ['x1'], byY: [5] } }]);
    await commit([{ key: 'a', value: 2, indexes: { byX: ['x2'] } }]);
    expect(await store.query('t', { index: 'byX', prefix: ['x1'] })).toEqual([]);
    expect(await store.query('t', { index: 'byX' })).toEqual([{ key: 'a', value: 2 }]);
    expect(await store.query('t', { index: 'byY' })).toEqual([]);
    await commit([{ key: 'a', delete: true }]);
    expect(await store.query('t', { index: 'byX' })).toEqual([]);
    expect(await store.get('t', 'a')).toBeUndefined();
  });

  it('answers get, getMany and every query exactly as the memory store does', async () => {
    const sqlite = open();
    const memory = memoryViewStore();
    const words = ['', 'a', 'b', 'shoe', 'shoes', 'shoes-x', 'Z', 'é', 'ｚ', '😀', 'a\u0001b'];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keyPart = (): string | number =>
      random(3) === 0 ? ([-3.5, -1, 0, 2, 10, 1e9][random(6)] as number) : (words[random(words.length)] as string);
    const indexKey = (): IndexKey => Array.from({ length: 1 + random(3) }, keyPart);
    for (let round = 0; round < 20; round++) {
      const changes = Array.from({ length: 15 }, (): ViewChange => {
        const key = `k${random(40)}`;
        if (random(6) === 0) return { key, delete: true as const };
        return {
          key,
          value: { n: random(1000), tags: [random(5)] },
          indexes: random(4) === 0 ? { byA: indexKey() } : { byA: indexKey(), byB: indexKey() },
        };
      });
      const commit: ViewCommit = { changes, positions: { '0': String(round) }, expected: round === 0 ? {} : { '0': String(round - 1) } };
      await sqlite.commit('v@1', commit);
      await memory.commit('v@1', commit);
    }
    // JavaScript's order (UTF-16 code units) differs from UTF-8 byte order here: U+FF5A sorts after U+1F600.
    const unicode = {
      changes: [
        { key: 'u1', value: 1, indexes: { byU: ['ｚ'] } },
        { key: 'u2', value: 2, indexes: { byU: ['😀'] } },
      ],
      positions: {},
      expected: {},
    };
    await sqlite.commit('v@1', unicode);
    await memory.commit('v@1', unicode);
    expect((await sqlite.query('v@1', { index: 'byU' })).map((row) => row.key)).toEqual(['u2', 'u1']);
    const queries: ViewQuery[] = [];
    for (const index of ['byA', 'byB', 'byU', 'none']) {
      queries.push({ index }, { index, reverse: true }, { index, limit: 5 }, { index, limit: 3, reverse: true });
      for (const word of words) queries.push({ index, prefix: [word] }, { index, prefix: [word], reverse: true, limit: 4 });
      queries.push({ index, prefix: [2] }, { index, prefix: ['shoes', 'a'] }, { index, prefix: [] });
    }
    for (const query of queries) expect(await sqlite.query('v@1', query), JSON.stringify(query)).toEqual(await memory.query('v@1', query));
    const keys = Array.from({ length: 45 }, (_, i) => `k${44 - i}`);
    expect([...(await sqlite.getMany('v@1', keys))]).toEqual([...(await memory.getMany('v@1', keys))]);
    for (const key of keys) expect(await sqlite.get('v@1', key)).toEqual(await memory.get('v@1', key));
    expect(await sqlite.positions('v@1')).toEqual(await memory.positions('v@1'));
  });

  it('points aliases at tables and drops a table with its rows, indexes and checkpoint', async () => {
    const store = open();
    await store.commit('v@1', { changes: [{ key: 'a', value: 1, indexes: { i: ['a'] } }], positions: { '0': '1' }, expected: {} });
    await store.commit('v@2', { changes: [{ key: 'a', value: 2, indexes: { i: ['a'] } }], positions: { '0': '1' }, expected: {} });
    expect(await store.alias('v')).toBeUndefined();
    await store.setAlias('v', 'v@1');
    await store.setAlias('v', 'v@2');
    expect(await store.alias('v')).toBe('v@2');
    await store.drop('v@1');
    expect(await store.get('v@1', 'a')).toBeUndefined();
    expect(await store.query('v@1', { index: 'i' })).toEqual([]);
    expect(await store.positions('v@1')).toEqual({});
    expect(await store.get('v@2', 'a')).toBe(2);
    await store.commit('v@1', { changes: [], positions: { '0': '0' }, expected: {} });
    expect(await store.positions('v@1')).toEqual({ '0': '0' });
  });

  it('refuses a value JSON cannot hold, writing nothing of the commit', async () => {
    const store = open();
    const error = await store
      .commit('t', {
        changes: [
          { key: 'a', value: 1 },
          { key: 'b', value: undefined },
        ],
        positions: { '0': '1' },
        expected: {},
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_VIEW_VALUE' });
    expect((error as Error).message).toContain('row "b"');
    expect(await store.get('t', 'a')).toBeUndefined();
    expect(await store.positions('t')).toEqual({});
  });

  it('applies the last change of a key in a commit, as applying them in order would', async () => {
    const sqlite = open();
    const memory = memoryViewStore();
    const commit: ViewCommit = {
      changes: [
        { key: 'a', value: 1, indexes: { i: ['x'] } },
        { key: 'b', value: 1 },
        { key: 'a', delete: true },
        { key: 'b', delete: true },
        { key: 'b', value: 2, indexes: { i: ['y'] } },
        { key: 'c', value: 3, indexes: { i: ['z'] } },
        { key: 'c', value: 4 },
      ],
      positions: {},
      expected: {},
    };
    for (const store of [sqlite, memory]) await store.commit('t', commit);
    for (const key of ['a', 'b', 'c']) expect(await sqlite.get('t', key)).toEqual(await memory.get('t', key));
    expect(await sqlite.query('t', { index: 'i' })).toEqual([{ key: 'b', value: 2 }]);
    const replaced = {
      changes: [
        { key: 'd', value: undefined },
        { key: 'd', value: 5 },
      ],
      positions: {},
      expected: {},
    };
    await expect(sqlite.commit('t', replaced)).rejects.toMatchObject({ code: 'INVALID_VIEW_VALUE' });
  });

  it('keeps tables apart whatever their names, and starts a dropped table afresh', async () => {
    const store = open();
    const names = ['Products', 'products', 'products@1', 'products_1', 'a"b; DROP TABLE riverlog_view_tables; --', 'é😀', 'x'.repeat(300)];
    for (const [i, name] of names.entries()) {
      await store.commit(name, { changes: [{ key: 'k', value: i, indexes: { 'by"quote': [i] } }], positions: {}, expected: {} });
    }
    for (const [i, name] of names.entries()) {
      expect(await store.get(name, 'k')).toBe(i);
      expect(await store.query(name, { index: 'by"quote' })).toEqual([{ key: 'k', value: i }]);
    }
    await store.drop('products');
    expect(await store.get('products', 'k')).toBeUndefined();
    expect(await store.get('Products', 'k')).toBe(0);
    await store.commit('products', { changes: [{ key: 'n', value: 'new' }], positions: {}, expected: {} });
    expect(await store.get('products', 'n')).toBe('new');
    expect(await store.get('products', 'k')).toBeUndefined();
    expect(await store.query('products', { index: 'by"quote' })).toEqual([]);
  });

  it('sees what another connection to the file did: new tables, new indexes, drops', async () => {
    const a = open();
    const b = open();
    const put = (store: ViewStore, key: string, value: unknown, indexes?: Record<string, IndexKey>) =>
      store.commit('v', { changes: [{ key, value, ...(indexes ? { indexes } : {}) }], positions: {}, expected: {} });
    await put(a, 'r1', 1, { byX: ['x'] });
    expect(await b.query('v', { index: 'byX' })).toEqual([{ key: 'r1', value: 1 }]);
    // b widens the table with an index a has not seen; a's next put of r2 must leave r2 out of it.
    await put(b, 'r2', 2, { byX: ['y'], byY: ['y'] });
    expect(await a.query('v', { index: 'byY' })).toEqual([{ key: 'r2', value: 2 }]);
    await put(a, 'r2', 3, { byX: ['z'] });
    expect(await b.query('v', { index: 'byY' })).toEqual([]);
    expect(await b.query('v', { index: 'byX', reverse: true })).toEqual([
      { key: 'r2', value: 3 },
      { key: 'r1', value: 1 },
    ]);
    await b.drop('v');
    expect(await a.get('v', 'r1')).toBeUndefined();
    await put(a, 'r3', 4, { byZ: [1] });
    expect(await b.query('v', { index: 'byZ' })).toEqual([{ key: 'r3', value: 4 }]);
    expect(await b.getMany('v', ['r1', 'r3'])).toEqual(new Map([['r3', 4]]));
  });

  it('forgets a table whose creation was rolled back', async () => {
    const store = open();
    const bad = {
      changes: [
        { key: 'a', value: 1, indexes: { i: ['a'] } },
        { key: 'b', value: () => 1 },
      ],
      positions: {},
      expected: {},
    };
    await expect(store.commit('fresh', bad)).rejects.toMatchObject({ code: 'INVALID_VIEW_VALUE' });
    expect(await store.query('fresh', { index: 'i' })).toEqual([]);
    await store.commit('fresh', { changes: [{ key: 'a', value: 1, indexes: { i: ['a'] } }], positions: { '0': '1' }, expected: {} });
    expect(await store.query('fresh', { index: 'i' })).toEqual([{ key: 'a', value: 1 }]);
  });

  it('keeps views in the log file, on the log connection or its own, and rejects calls after close', async () => {
    const log = sqliteLog({ path: join(dir, 'retail.db') });
    const shared = sqliteViewStore({ database: log.database });
    await shared.commit('v', { changes: [{ key: 'a', value: { ok: true } }], positions: { '0': '0' }, expected: {} });
    const own = open('retail.db');
    expect(await own.get('v', 'a')).toEqual({ ok: true });
    await shared.close();
    await log.close();
    await expect(shared.get('v', 'a')).rejects.toBeInstanceOf(ClosedError);
    await own.close();
    await expect(own.get('v', 'a')).rejects.toBeInstanceOf(ClosedError);
  });
});
