import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IndexKey, memoryViewStore, type RowWrite, type ViewStore } from '@riverlog/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashOf } from './view-ids.js';
import { sqliteViewStore } from './view-store.js';

// The port's behaviour is checked by the ViewStore contract (test/contract/sqlite-view-store.test.ts);
// these tests cover what is SQLite's own: names, several connections on one file, the id table's size.

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

const put = (key: string, value: unknown, expectedVersion = 0, indexes?: Record<string, IndexKey>): RowWrite => ({
  key,
  value,
  applied: {},
  expectedVersion,
  ...(indexes ? { indexes } : {}),
});
const rowsOnly = (rows: RowWrite[]) => ({ rows, ids: [], positions: {} });
/** Two ids of the same `hashOf`: `prefix` and a number each (a few hundred thousand tries at most). */
const sameHash = (prefix: string): [string, string] => {
  const byHash = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `${prefix}${i}`;
    const other = byHash.get(hashOf(id));
    if (other !== undefined) return [other, id];
    byHash.set(hashOf(id), id);
  }
};

describe('sqliteViewStore', () => {
  it('lists every index exactly as the memory store does, whatever the characters', async () => {
    const sqlite = open();
    const memory = memoryViewStore();
    const names = ['Boot', 'boot', 'Böot', 'B', 'Bo\u00ffz', '\u4e2d\u6587', 'B\ud83d\ude00', 'B\uffff', '', 'zz', 'B\u0001'];
    const rows = names.flatMap((name, i) => [
      put(`k${i}`, { name }, 0, { byName: [name, i], byNumber: [i % 3 === 0 ? -i : i * 0.5, name] }),
      put(`k${i}-x`, { name }, 0, { byName: [name] }),
    ]);
    for (const store of [sqlite, memory]) {
      await store.createTable('v@1', { indexes: ['byName', 'byNumber'], idWindow: 0 });
      await store.commit('v@1', rowsOnly(rows));
    }
    const queries = [
      { index: 'byName' },
      { index: 'byName', reverse: true },
      { index: 'byName', prefix: ['B'] },
      { index: 'byName', prefix: ['B\ud83d\ude00'] },
      { index: 'byNumber' },
      { index: 'byNumber', prefix: [0.5] },
      { index: 'byNumber', reverse: true, limit: 3 },
      {},
      { limit: 5, reverse: true },
    ];
    for (const query of queries) {
      const all = async (store: ViewStore) => {
        const keys: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list('v@1', { ...query, limit: query.limit ?? 4, cursor });
          keys.push(...page.rows.map((row) => row.key));
          cursor = page.cursor;
        } while (cursor !== undefined);
        return keys;
      };
      expect(await all(sqlite), JSON.stringify(query)).toEqual(await all(memory));
    }
  });

  it('keeps tables apart whatever their names, and a dropped table comes back empty', async () => {
    const store = open();
    const names = ['products', 'Products', 'pro"ducts', 'pro ducts', 'pro_ducts', 'x'.repeat(100)];
    for (const [i, name] of names.entries()) {
      await store.createTable(name, { indexes: ['by"quote'], idWindow: 10 });
      await store.commit(name, { rows: [put('k', i, 0, { 'by"quote': [i] })], ids: ['e'], positions: { '0': String(i) } });
    }
    for (const [i, name] of names.entries()) {
      expect(await store.get(name, 'k')).toBe(i);
      expect((await store.list(name, { index: 'by"quote' })).rows).toEqual([{ key: 'k', value: i }]);
    }
    await store.drop('products');
    await store.createTable('products', { indexes: [], idWindow: 10 });
    expect(await store.get('products', 'k')).toBeUndefined();
    expect(await store.seen('products', ['e'])).toEqual(new Set());
    expect(await store.get('Products', 'k')).toBe(1);
  });

  it('sees what another connection to the file did: new tables, drops, tables created again with other indexes', async () => {
    const a = open();
    const b = open();
    await a.createTable('v', { indexes: ['i'], idWindow: 0 });
    await a.commit('v', rowsOnly([put('k', 1, 0, { i: ['x'] })]));
    expect((await b.list('v', { index: 'i' })).rows).toEqual([{ key: 'k', value: 1 }]);
    await b.drop('v');
    await b.createTable('v', { indexes: ['j'], idWindow: 0 });
    await expect(a.list('v', { index: 'i' })).rejects.toMatchObject({ code: 'UNKNOWN_INDEX' });
    // a's commit was checked against the table it knew (index i): it is checked again against the new one.
    await expect(a.commit('v', rowsOnly([put('k', 2, 0, { i: ['y'] })]))).rejects.toMatchObject({ code: 'UNKNOWN_INDEX' });
    await a.commit('v', rowsOnly([put('k', 2, 0, { j: ['y'] })]));
    expect((await b.list('v', { index: 'j' })).rows).toEqual([{ key: 'k', value: 2 }]);
  });

  it('guards rows and ids across connections: of two writers that read version 1, one wins', async () => {
    const a = open();
    const b = open();
    await a.createTable('v', { indexes: [], idWindow: 100 });
    await a.commit('v', rowsOnly([put('total', 1)]));
    const [readA, readB] = await Promise.all([a.rows('v', ['total']), b.rows('v', ['total'])]);
    await a.commit('v', { rows: [put('total', 2, readA.get('total')?.version)], ids: ['e1'], positions: { '0': '1' } });
    await expect(
      b.commit('v', { rows: [put('total', 2, readB.get('total')?.version)], ids: ['e2'], positions: { '1': '1' } }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(b.commit('v', { rows: [], ids: ['e3', 'e1'], positions: {} })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('"e1"'),
    });
    expect(await b.positions('v')).toEqual({ '0': '1' });
    expect(await b.seen('v', ['e1', 'e2', 'e3'])).toEqual(new Set(['e1']));
  });

  it("answers ids from a cache that follows another connection's commits and pruning", async () => {
    const a = open();
    const b = open();
    await a.createTable('v', { indexes: [], idWindow: 300 });
    const old = Array.from({ length: 300 }, (_, i) => `old-${i}`);
    await a.commit('v', { rows: [], ids: old, positions: {} });
    expect((await b.seen('v', old)).size).toBe(300); // b's cache now holds them
    let n = 0;
    for (let c = 0; c < 6; c++) await a.commit('v', { rows: [], ids: Array.from({ length: 100 }, () => `new-${n++}`), positions: {} });
    // a pruned the first row: b forgets it too, and knows every newer id.
    expect(await b.seen('v', ['old-0', 'old-299'])).toEqual(new Set());
    expect((await b.seen('v', ['new-300', 'new-599'])).size).toBe(2);
    await b.commit('v', { rows: [], ids: ['old-0'], positions: {} });
    await expect(a.commit('v', { rows: [], ids: ['x', 'old-0'], positions: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(b.commit('v', { rows: [], ids: ['new-599'], positions: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await a.seen('v', ['x', 'old-0'])).toEqual(new Set(['old-0']));
  });

  it('tells apart two ids whose hashes collide (the window keeps hashes, a hit is checked against the stored ids)', async () => {
    const [a, b] = sameHash('c-');
    const store = open();
    await store.createTable('v', { indexes: [], idWindow: 100 });
    await store.commit('v', { rows: [], ids: [a], positions: {} });
    expect(await store.seen('v', [a, b])).toEqual(new Set([a]));
    await store.commit('v', { rows: [], ids: [b], positions: {} });
    await expect(store.commit('v', { rows: [], ids: [b], positions: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await open().seen('v', [a, b])).toEqual(new Set([a, b]));
  });

  it('never answers from the hash of a pruned id: it and an id of the same hash are unseen, and each may be committed again', async () => {
    const [pruned, twin] = sameHash('p-');
    const a = open();
    const b = open();
    await a.createTable('v', { indexes: [], idWindow: 100 });
    await a.commit('v', { rows: [], ids: [pruned], positions: {} });
    expect(await b.seen('v', [pruned, twin])).toEqual(new Set([pruned])); // b's cache holds it too
    // Three rows of 100 more: the third crosses a pruning step (256 ids) and deletes the rows older than the newest 100 ids.
    let n = 0;
    for (let c = 0; c < 3; c++) await a.commit('v', { rows: [], ids: Array.from({ length: 100 }, () => `id-${n++}`), positions: {} });
    // Both caches keep the pruned id's hash (no rebuild at a prune); neither answers from it.
    for (const store of [a, b]) expect(await store.seen('v', [pruned, twin, 'id-299'])).toEqual(new Set(['id-299']));
    await b.commit('v', { rows: [], ids: [twin], positions: {} });
    await a.commit('v', { rows: [], ids: [pruned], positions: {} });
    for (const store of [a, b, open()]) expect(await store.seen('v', [pruned, twin])).toEqual(new Set([pruned, twin]));
    await expect(b.commit('v', { rows: [], ids: [pruned], positions: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it("forgets the ids of a table another connection dropped and created again, and keeps the new table's", async () => {
    const a = open();
    const b = open();
    await a.createTable('v', { indexes: [], idWindow: 100 });
    await a.commit('v', { rows: [], ids: ['e1', 'e2'], positions: {} });
    expect(await a.seen('v', ['e1', 'e2'])).toEqual(new Set(['e1', 'e2'])); // a's cache holds them
    await b.drop('v');
    await b.createTable('v', { indexes: [], idWindow: 100 });
    await b.commit('v', { rows: [], ids: ['e2'], positions: {} });
    expect(await a.seen('v', ['e1', 'e2'])).toEqual(new Set(['e2']));
    await a.commit('v', { rows: [], ids: ['e1'], positions: {} });
    await expect(a.commit('v', { rows: [], ids: ['e2'], positions: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('leaves the settings of a database it is given as they were (page cache, temp store, WAL checkpoints)', async () => {
    const db = new Database(join(dir, 'given.db'));
    try {
      db.pragma('journal_mode = WAL');
      const settings = () => ({
        cache: db.pragma('cache_size', { simple: true }),
        temp: db.pragma('temp_store', { simple: true }),
        wal: db.pragma('wal_autocheckpoint', { simple: true }),
      });
      const before = settings();
      const store = sqliteViewStore({ database: db });
      await store.createTable('v', { indexes: ['i'], idWindow: 10 });
      await store.commit('v', { rows: [put('a', 1, 0, { i: ['x'] })], ids: ['e1'], positions: { '0': '1' } });
      await store.close();
      expect(settings()).toEqual(before);
      expect(before.temp).toBe(0); // SQLite's default, not the MEMORY a store in its own file sets
    } finally {
      db.close();
    }
  });

  it('rewrites rows that keep their sort keys and rows that change them in one commit, guarded alike, the index right after each', async () => {
    const sqlite = open();
    const memory = memoryViewStore();
    const byName = (name: string) => ({ byName: [name] });
    const versions = new Map<string, number>();
    for (const store of [sqlite, memory]) {
      await store.createTable('v', { indexes: ['byName'], idWindow: 0 });
      await store.commit('v', rowsOnly(Array.from({ length: 300 }, (_, i) => put(`k${i}`, { n: 0 }, 0, byName(`a${i}`)))));
    }
    // Commits where every row keeps its sort key, then where most change it (the store stops trying in place for a while), then mixed.
    const rounds = [
      (i: number) => `a${i}`,
      (i: number) => `b${i}`,
      ...Array.from({ length: 9 }, (_, r) => (i: number) => (i % 3 === 0 ? `c${r}-${i}` : `b${i}`)),
      (i: number) => (i % 2 === 0 ? `d${i}` : `b${i}`),
    ];
    for (const [r, name] of rounds.entries()) {
      const rows = Array.from({ length: 300 }, (_, i) => put(`k${i}`, { n: r + 1 }, r + 1, byName(name(i))));
      for (const store of [sqlite, memory]) await store.commit('v', rowsOnly(rows));
      expect((await sqlite.list('v', { index: 'byName', limit: 1000 })).rows).toEqual(
        (await memory.list('v', { index: 'byName', limit: 1000 })).rows,
      );
    }
    for (const [key, row] of await sqlite.rows('v', ['k0', 'k299'])) versions.set(key, row.version);
    expect(versions).toEqual(
      new Map([
        ['k0', rounds.length + 1],
        ['k299', rounds.length + 1],
      ]),
    );
    // A stale version among rows that keep their sort keys and rows that change them: a conflict naming it, nothing written.
    const v = rounds.length + 1;
    const stale = [put('k1', 'x', v, byName('b1')), put('k2', 'x', v - 1, byName('b2')), put('k4', 'x', v, byName('z'))];
    await expect(sqlite.commit('v', rowsOnly(stale))).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('"k2"') });
    const stale2 = [put('k1', 'x', v, byName('b1')), put('k4', 'x', v - 1, byName('z'))];
    await expect(sqlite.commit('v', rowsOnly(stale2))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('"k4"'),
    });
    expect(await sqlite.get('v', 'k1')).toEqual({ n: rounds.length });
    expect((await sqlite.list('v', { index: 'byName', prefix: ['z'] })).rows).toEqual([]);
    // A tombstone leaves every index; a row written again comes back under its new sort key.
    await sqlite.commit('v', rowsOnly([put('k1', undefined, v, byName('b1')), put('k3', 'y', v, byName('b3'))]));
    await sqlite.commit('v', rowsOnly([put('k1', 'back', v + 1, byName('e1'))]));
    expect((await sqlite.list('v', { index: 'byName', prefix: ['b1'] })).rows).toEqual([]);
    expect((await sqlite.list('v', { index: 'byName', prefix: ['b3'] })).rows).toEqual([{ key: 'k3', value: 'y' }]);
    expect((await sqlite.list('v', { index: 'byName', prefix: ['e1'] })).rows).toEqual([{ key: 'k1', value: 'back' }]);
  });

  it('holds at most the id window plus one pruning step and two commits of ids', async () => {
    const store = open();
    await store.createTable('v', { indexes: [], idWindow: 1000 });
    let n = 0;
    for (let commit = 0; commit < 50; commit++) {
      await store.commit('v', { rows: [], ids: Array.from({ length: 97 }, () => `id-${n++}`), positions: {} });
    }
    const db = new Database(join(dir, 'views.db'), { readonly: true });
    try {
      const [name] = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '%\\_ids' ESCAPE '\\'")
        .pluck()
        .all() as string[];
      // One row per commit: a row is pruned once all its ids are older than the window.
      const count = db.prepare(`SELECT sum(json_array_length(ids)) FROM "${name}"`).pluck().get() as number;
      expect(count).toBeGreaterThanOrEqual(1000);
      expect(count).toBeLessThan(1000 + 256 + 2 * 97);
    } finally {
      db.close();
    }
    const newest = Array.from({ length: 1000 }, (_, i) => `id-${n - 1 - i}`);
    expect((await store.seen('v', newest)).size).toBe(1000);
    expect((await store.seen('v', ['id-0', 'id-1000'])).size).toBe(0);
  });

  it("waits for another connection's write lock without blocking the event loop", async () => {
    const store = open();
    await store.createTable('v', { indexes: [], idWindow: 10 });
    const other = new Database(join(dir, 'views.db'));
    try {
      other.exec('BEGIN IMMEDIATE');
      let settled = false;
      const commit = store.commit('v', { rows: [put('a', 1)], ids: ['e1'], positions: { '0': '1' } }).finally(() => {
        settled = true;
      });
      // Timers run while the commit waits: twenty ticks of a 1 ms timer.
      let ticks = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (++ticks === 20) {
            clearInterval(timer);
            resolve();
          }
        }, 1);
      });
      expect(settled).toBe(false);
      other.exec('COMMIT');
      await commit;
      expect(await store.get('v', 'a')).toBe(1);
    } finally {
      other.close();
    }
  });

  it("creates a table that exists already without waiting for another connection's write lock (a runner restarting while another is paused in a commit)", async () => {
    await open().createTable('v', { indexes: ['byName'], idWindow: 10 });
    const restarted = open();
    const other = new Database(join(dir, 'views.db'));
    try {
      other.exec('BEGIN IMMEDIATE');
      await restarted.createTable('v', { indexes: ['byName'], idWindow: 10 });
      await expect(restarted.createTable('v', { indexes: ['other'], idWindow: 10 })).rejects.toMatchObject({ code: 'INVALID_VIEW' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  });

  it('keeps views in the log file on the log connection, and a store closed there leaves the connection open', async () => {
    const db = new Database(join(dir, 'shared.db'));
    try {
      const shared = sqliteViewStore({ database: db });
      await shared.createTable('v', { indexes: [], idWindow: 0 });
      await shared.commit('v', rowsOnly([put('a', { ok: true })]));
      await shared.close();
      await expect(shared.get('v', 'a')).rejects.toMatchObject({ code: 'CLOSED' });
      expect(db.open).toBe(true);
      expect(await open('shared.db').get('v', 'a')).toEqual({ ok: true });
    } finally {
      db.close();
    }
  });
});
