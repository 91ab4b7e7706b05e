import {
  ConflictError,
  encodeIndexKey,
  type PositionMap,
  preview,
  RiverlogError,
  type ViewChange,
  type ViewQuery,
  type ViewRow,
  type ViewStore,
} from '@riverlog/core';
import { openStoreConnection, type SqliteSource } from '../connection.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_view_rows (
  table_name TEXT NOT NULL,
  row_key TEXT NOT NULL,
  value TEXT NOT NULL,            -- the row as JSON
  index_keys TEXT,                -- JSON object: index name -> sort key (hex), to remove them on update
  PRIMARY KEY (table_name, row_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS riverlog_view_index (
  table_name TEXT NOT NULL,
  index_name TEXT NOT NULL,
  sort_key BLOB NOT NULL,         -- encodeIndexKey(key) + row key, as UTF-16BE: byte order is JavaScript string order
  row_key TEXT NOT NULL,
  PRIMARY KEY (table_name, index_name, sort_key, row_key)
) WITHOUT ROWID;
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

/**
 * A string as UTF-16 big-endian bytes: SQLite compares BLOBs with memcmp,
 * which for these bytes is exactly JavaScript's code-unit string order.
 */
function sortable(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
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

/**
 * A view store in SQLite: JSON rows by key, secondary indexes as range-
 * scannable sort keys, a checkpoint per table and aliases, in four
 * `riverlog_view_*` tables of their own file or beside the log. `commit`
 * applies the changes and moves the checkpoint in one transaction, and
 * refuses with `ConflictError` (writing nothing) when the stored checkpoint
 * is not the one the writer expected.
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
  const getRow = db.prepare('SELECT value FROM riverlog_view_rows WHERE table_name = ? AND row_key = ?').pluck();
  const getRows = db
    .prepare('SELECT row_key, value FROM riverlog_view_rows WHERE table_name = ? AND row_key IN (SELECT value FROM json_each(?))')
    .raw();
  const indexKeysOf = db.prepare('SELECT index_keys FROM riverlog_view_rows WHERE table_name = ? AND row_key = ?').pluck();
  const putRow = db.prepare(
    'INSERT INTO riverlog_view_rows (table_name, row_key, value, index_keys) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value, index_keys = excluded.index_keys',
  );
  const deleteRow = db.prepare('DELETE FROM riverlog_view_rows WHERE table_name = ? AND row_key = ?');
  const putIndex = db.prepare('INSERT INTO riverlog_view_index (table_name, index_name, sort_key, row_key) VALUES (?, ?, ?, ?)');
  const deleteIndex = db.prepare(
    'DELETE FROM riverlog_view_index WHERE table_name = ? AND index_name = ? AND sort_key = ? AND row_key = ?',
  );
  const selectPositions = db.prepare('SELECT partition_id, last_offset FROM riverlog_view_positions WHERE table_name = ?').raw();
  const putPosition = db.prepare(
    'INSERT INTO riverlog_view_positions (table_name, partition_id, last_offset) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_offset = excluded.last_offset',
  );
  const getAlias = db.prepare('SELECT table_name FROM riverlog_view_aliases WHERE alias = ?').pluck();
  const putAlias = db.prepare(
    'INSERT INTO riverlog_view_aliases (alias, table_name) VALUES (?, ?) ON CONFLICT DO UPDATE SET table_name = excluded.table_name',
  );
  const dropTable = [
    db.prepare('DELETE FROM riverlog_view_index WHERE table_name = ?'),
    db.prepare('DELETE FROM riverlog_view_rows WHERE table_name = ?'),
    db.prepare('DELETE FROM riverlog_view_positions WHERE table_name = ?'),
  ];
  const select =
    'SELECT r.row_key, r.value FROM riverlog_view_index i JOIN riverlog_view_rows r ON r.table_name = i.table_name AND r.row_key = i.row_key';
  const where = 'WHERE i.table_name = @table AND i.index_name = @index';
  const queries = {
    all: {
      asc: db.prepare(`${select} ${where} ORDER BY i.sort_key, i.row_key LIMIT @limit`).raw(),
      desc: db.prepare(`${select} ${where} ORDER BY i.sort_key DESC, i.row_key DESC LIMIT @limit`).raw(),
    },
    prefix: {
      asc: db.prepare(`${select} ${where} AND i.sort_key >= @low AND i.sort_key < @high ORDER BY i.sort_key, i.row_key LIMIT @limit`).raw(),
      desc: db
        .prepare(`${select} ${where} AND i.sort_key >= @low AND i.sort_key < @high ORDER BY i.sort_key DESC, i.row_key DESC LIMIT @limit`)
        .raw(),
    },
  };

  function removeIndexEntries(table: string, key: string): void {
    const stored = indexKeysOf.get(table, key) as string | null | undefined;
    if (!stored) return;
    for (const [index, hex] of Object.entries(JSON.parse(stored) as Record<string, string>)) {
      deleteIndex.run(table, index, Buffer.from(hex, 'hex'), key);
    }
  }

  function apply(table: string, change: ViewChange): void {
    removeIndexEntries(table, change.key);
    if ('delete' in change) {
      deleteRow.run(table, change.key);
      return;
    }
    const put = change as Exclude<ViewChange, { delete: true }>;
    const value = toJson(put.value, table, put.key);
    const entries = Object.entries(put.indexes ?? {});
    const stored: Record<string, string> = {};
    for (const [index, indexKey] of entries) {
      const sortKey = sortable(encodeIndexKey(indexKey) + put.key);
      putIndex.run(table, index, sortKey, put.key);
      stored[index] = sortKey.toString('hex');
    }
    putRow.run(table, put.key, value, entries.length > 0 ? JSON.stringify(stored) : null);
  }

  const commitAll = db.transaction((table: string, changes: readonly ViewChange[], positions: PositionMap, expected: PositionMap) => {
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
    for (const change of changes) apply(table, change);
    for (const [partition, offset] of Object.entries(positions)) putPosition.run(table, partition, offset);
  });

  return {
    async get(table, key) {
      connection.ensureOpen();
      const value = getRow.get(table, key) as string | undefined;
      return value === undefined ? undefined : JSON.parse(value);
    },
    async getMany(table, keys) {
      connection.ensureOpen();
      const found = new Map<string, unknown>();
      if (keys.length === 0) return found;
      const rows = new Map(getRows.all(table, JSON.stringify(keys)) as [string, string][]);
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
      let rows: [string, string][];
      if (query.prefix && query.prefix.length > 0) {
        const low = sortable(encodeIndexKey(query.prefix));
        rows = queries.prefix[order].all({ table, index: query.index, low, high: upperBound(low), limit }) as [string, string][];
      } else {
        rows = queries.all[order].all({ table, index: query.index, limit }) as [string, string][];
      }
      return rows.map(([key, value]): ViewRow => ({ key, value: JSON.parse(value) }));
    },
    async positions(table) {
      connection.ensureOpen();
      return Object.fromEntries(selectPositions.all(table) as [string, string][]);
    },
    async commit(table, commit) {
      connection.ensureOpen();
      commitAll.immediate(table, commit.changes, commit.positions, commit.expected);
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
      db.transaction(() => {
        for (const statement of dropTable) statement.run(table);
      }).immediate();
    },
    async close() {
      connection.close();
    },
  };
}
