import {
  ConflictError,
  encodeIndexKey,
  type IndexKey,
  type PositionMap,
  preview,
  RiverlogError,
  type ViewChange,
  type ViewQuery,
  type ViewRow,
  type ViewStore,
} from '@riverlog/core';
import type Database from 'better-sqlite3';
import { openStoreConnection, type SqliteSource } from '../connection.js';
import { chunkFor, VIEW_REGISTRY_SCHEMA, type ViewTable, ViewTables } from './view-tables.js';

const SCHEMA = `${VIEW_REGISTRY_SCHEMA}
CREATE TABLE IF NOT EXISTS riverlog_view_positions (
  table_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  last_offset TEXT NOT NULL,
  PRIMARY KEY (table_name, partition_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS riverlog_view_aliases (
  alias TEXT PRIMARY KEY,
  table_name TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Only code units below 0x80 (the test runs in native code, faster than a loop). */
const ASCII = /^[^\u0080-\uffff]*$/;

/**
 * A string as bytes whose order (SQLite compares BLOBs with memcmp) is
 * JavaScript's code-unit string order: a code unit below 0x80 is one byte,
 * any other three (0x80 | u >> 12, 0x80 | (u >> 6) & 0x3f, 0x80 | u & 0x3f),
 * so every multi-byte code sorts after every one-byte code and among its
 * kind by value, and no code is a prefix of another. Unlike UTF-8 it keeps
 * surrogates apart, as JavaScript compares them, and ASCII stays one byte
 * per character (half of UTF-16), which keeps index entries small.
 */
function sortable(text: string): Buffer {
  if (ASCII.test(text)) return Buffer.from(text, 'latin1');
  const bytes = Buffer.allocUnsafe(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes[n++] = unit;
    else {
      bytes[n++] = 0x80 | (unit >> 12);
      bytes[n++] = 0x80 | ((unit >> 6) & 0x3f);
      bytes[n++] = 0x80 | (unit & 0x3f);
    }
  }
  return bytes.subarray(0, n);
}

/** The smallest key above every key that starts with `prefix` (which ends with the U+0000 separator). */
function upperBound(prefix: Buffer): Buffer {
  const bound = Buffer.from(prefix);
  bound[bound.length - 1] = 1;
  return bound;
}

function toJson(value: unknown, table: string, key: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(key)}: the value cannot be stored as JSON (${(error as Error).message}).`,
    );
  }
  if (text === undefined) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(key)}: the value ${preview(value)} cannot be stored as JSON.`,
    );
  }
  return text;
}

/** A put's sort key in one index: the encoded index key followed by the row key, as the memory store sorts. */
function sortKey(indexKey: IndexKey, key: string): Buffer {
  return sortable(encodeIndexKey(indexKey) + key);
}

/**
 * The changes that decide each row: the last one of each key, as applying
 * them in order would leave it. Puts that a later change of the same row
 * replaces are still checked, so a bad value refuses the commit either way.
 */
function lastOfEachKey(table: string, changes: readonly ViewChange[]): readonly ViewChange[] {
  const last = new Map<string, number>();
  for (let i = 0; i < changes.length; i++) last.set((changes[i] as ViewChange).key, i);
  if (last.size === changes.length) return changes;
  return changes.filter((change, i) => {
    if (last.get(change.key) === i) return true;
    if (!('delete' in change)) {
      toJson(change.value, table, change.key);
      for (const indexKey of Object.values(change.indexes ?? {})) encodeIndexKey(indexKey);
    }
    return false;
  });
}

/**
 * A view store in SQLite: JSON rows by key with secondary indexes, a
 * checkpoint per table and aliases, in its own file or beside the log. Each
 * view table is an SQL table of its own (created on its first row), keyed by
 * row key, with one column per index holding the row's sort key there and an
 * SQL index on it (added when an index name first appears): a put is one
 * upsert, a delete one DELETE, a query one index range scan. `commit` applies
 * the changes and moves the checkpoint in one transaction, and refuses with
 * `ConflictError` (writing nothing) when the stored checkpoint is not the one
 * the writer expected.
 *
 * @example
 * import { sqliteViewStore } from '@riverlog/sqlite';
 *
 * const store = sqliteViewStore({ path: 'data/views.db' });
 * await store.commit('products@1', {
 *   changes: [{ key: 'p1', value: { name: 'Boot' }, indexes: { byCategory: ['shoes', 'Boot'] } }],
 *   positions: { '0': '12' },
 *   expected: {},
 * });
 * await store.query('products@1', { index: 'byCategory', prefix: ['shoes'] }); // [{ key: 'p1', value: { name: 'Boot' } }]
 */
export function sqliteViewStore(source: SqliteSource): ViewStore {
  const connection = openStoreConnection(source, 'sqliteViewStore', SCHEMA);
  const { db } = connection;
  const tables = new ViewTables(db);
  const selectPositions = db.prepare('SELECT partition_id, last_offset FROM riverlog_view_positions WHERE table_name = ?').raw();
  const putPosition = db.prepare(
    'INSERT INTO riverlog_view_positions (table_name, partition_id, last_offset) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_offset = excluded.last_offset',
  );
  const deletePositions = db.prepare('DELETE FROM riverlog_view_positions WHERE table_name = ?');
  const getAlias = db.prepare('SELECT table_name FROM riverlog_view_aliases WHERE alias = ?').pluck();
  const putAlias = db.prepare(
    'INSERT INTO riverlog_view_aliases (alias, table_name) VALUES (?, ?) ON CONFLICT DO UPDATE SET table_name = excluded.table_name',
  );

  function apply(table: string, all: readonly ViewChange[]): void {
    const changes = lastOfEachKey(table, all);
    const indexNames = new Set<string>();
    let puts = 0;
    for (const change of changes) {
      if ('delete' in change) continue;
      puts++;
      if (change.indexes) for (const name of Object.keys(change.indexes)) indexNames.add(name);
    }
    const target = puts > 0 ? tables.ensure(table, indexNames) : tables.find(table);
    if (!target) return; // deletes in a table that never had a row
    const slotOf = new Map(target.columnNames.map((column, i) => [column, i]));
    const slots = new Map([...target.columns].map(([index, column]) => [index, slotOf.get(column) as number]));
    const width = 2 + target.columnNames.length;
    let args: unknown[] = [];
    let rows = 0;
    let left = puts;
    for (const change of changes) {
      if ('delete' in change) {
        target.delete(change.key);
        continue;
      }
      if (rows === 0) args = new Array(chunkFor(left) * width).fill(null);
      const at = rows * width;
      args[at] = change.key;
      args[at + 1] = toJson(change.value, table, change.key);
      if (change.indexes) {
        for (const [index, indexKey] of Object.entries(change.indexes))
          args[at + 2 + (slots.get(index) as number)] = sortKey(indexKey, change.key);
      }
      rows++;
      if (rows * width === args.length) {
        target.upsert(rows, args);
        left -= rows;
        rows = 0;
      }
    }
  }

  const commitAll = db.transaction((table: string, changes: readonly ViewChange[], positions: PositionMap, expected: PositionMap) => {
    tables.sync();
    const current = Object.fromEntries(selectPositions.all(table) as [string, string][]) as Record<string, string>;
    for (const [partition, offset] of Object.entries(expected)) {
      if (current[partition] !== offset) {
        throw new ConflictError(
          `View table ${table}, partition ${partition}: expected checkpoint ${offset}, found ${current[partition] ?? 'none'}; another writer moved it. Nothing was written.`,
        );
      }
    }
    for (const partition of Object.keys(positions)) {
      if (!(partition in expected) && current[partition] !== undefined) {
        throw new ConflictError(
          `View table ${table}, partition ${partition}: expected no checkpoint, found ${current[partition]}; another writer moved it. Nothing was written.`,
        );
      }
    }
    if (changes.length > 0) apply(table, changes);
    for (const [partition, offset] of Object.entries(positions)) putPosition.run(table, partition, offset);
  });
  const dropAll = db.transaction((table: string) => {
    tables.sync();
    tables.drop(table);
    deletePositions.run(table);
  });
  // Reads run in a (deferred) transaction too, so the schema cannot change between checking it and reading.
  const inRead = db.transaction((read: (found: ViewTable | undefined) => unknown, table: string) => {
    tables.sync();
    return read(tables.find(table));
  });

  /** Runs a write; a rolled back one may have undone DDL the cache saw, so the cache goes. */
  function write<A extends unknown[]>(transaction: Database.Transaction<(...args: A) => void>, ...args: A): void {
    try {
      transaction.immediate(...args);
    } catch (error) {
      tables.forget();
      throw error;
    }
  }
  function read<T>(table: string, reader: (found: ViewTable | undefined) => T): T {
    try {
      return inRead.deferred(reader, table) as T;
    } catch (error) {
      tables.forget();
      throw error;
    }
  }

  return {
    async get(table, key) {
      connection.ensureOpen();
      const value = read(table, (found) => found?.get(key));
      return value === undefined ? undefined : JSON.parse(value);
    },
    async getMany(table, keys) {
      connection.ensureOpen();
      const found = new Map<string, unknown>();
      if (keys.length === 0) return found;
      const rows = new Map(read(table, (target) => target?.getMany(keys) ?? []));
      // In the order asked for, as the memory store does.
      for (const key of keys) {
        const value = rows.get(key);
        if (value !== undefined && !found.has(key)) found.set(key, JSON.parse(value));
      }
      return found;
    },
    async query(table, query: ViewQuery) {
      connection.ensureOpen();
      const order = query.reverse ? 'desc' : 'asc';
      const limit = query.limit ?? -1;
      let range: { low: Buffer; high: Buffer } | undefined;
      if (query.prefix && query.prefix.length > 0) {
        const low = sortable(encodeIndexKey(query.prefix));
        range = { low, high: upperBound(low) };
      }
      const rows = read(table, (found) => found?.query(query.index, order, limit, range) ?? []);
      return rows.map(([key, value]): ViewRow => ({ key, value: JSON.parse(value) }));
    },
    async positions(table) {
      connection.ensureOpen();
      return Object.fromEntries(selectPositions.all(table) as [string, string][]);
    },
    async commit(table, commit) {
      connection.ensureOpen();
      write(commitAll, table, commit.changes, commit.positions, commit.expected);
    },
    async alias(name) {
      connection.ensureOpen();
      return getAlias.get(name) as string | undefined;
    },
    async setAlias(name, table) {
      connection.ensureOpen();
      putAlias.run(name, table);
    },
    async drop(table) {
      connection.ensureOpen();
      write(dropAll, table);
    },
    async close() {
      connection.close();
    },
  };
}
