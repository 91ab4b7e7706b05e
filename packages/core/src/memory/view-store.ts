import { ClosedError, ConflictError } from '../errors.js';
import { encodeIndexKey } from '../index-key.js';
import type { ViewQuery, ViewRow, ViewStore } from '../ports.js';

interface Table {
  rows: Map<string, { value: unknown; indexes: Map<string, string> }>;
  positions: Record<string, string>;
}

/**
 * A view store in memory: tables, indexes, checkpoints and aliases, with the
 * same commit guard as the durable stores.
 *
 * @example
 * const store = memoryViewStore();
 */
export function memoryViewStore(): ViewStore {
  const tables = new Map<string, Table>();
  const aliases = new Map<string, string>();
  let closed = false;

  function table(name: string): Table {
    if (closed) throw new ClosedError('memory view store');
    let found = tables.get(name);
    if (!found) {
      found = { rows: new Map(), positions: {} };
      tables.set(name, found);
    }
    return found;
  }

  const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));

  return {
    async get(name, key) {
      return clone(table(name).rows.get(key)?.value);
    },
    async getMany(name, keys) {
      const rows = table(name).rows;
      const found = new Map<string, unknown>();
      for (const key of keys) {
        const row = rows.get(key);
        if (row) found.set(key, clone(row.value));
      }
      return found;
    },
    async query(name, query: ViewQuery) {
      const prefix = query.prefix ? encodeIndexKey(query.prefix) : '';
      const matches: { sort: string; row: ViewRow }[] = [];
      for (const [key, row] of table(name).rows) {
        const sort = row.indexes.get(query.index);
        if (sort?.startsWith(prefix)) matches.push({ sort: sort + key, row: { key, value: clone(row.value) } });
      }
      matches.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
      if (query.reverse) matches.reverse();
      return matches.slice(0, query.limit ?? matches.length).map((m) => m.row);
    },
    async positions(name) {
      return { ...table(name).positions };
    },
    async commit(name, commit) {
      const target = table(name);
      for (const [partition, offset] of Object.entries(commit.expected)) {
        if (target.positions[partition] !== offset) {
          throw new ConflictError(
            `View table ${name}, partition ${partition}: expected checkpoint ${offset}, found ${target.positions[partition] ?? 'none'}; another writer moved it. Nothing was written.`,
          );
        }
      }
      for (const partition of Object.keys(commit.positions)) {
        if (!(partition in commit.expected) && target.positions[partition] !== undefined) {
          throw new ConflictError(
            `View table ${name}, partition ${partition}: expected no checkpoint, found ${target.positions[partition]}; another writer moved it. Nothing was written.`,
          );
        }
      }
      for (const change of commit.changes) {
        if ('delete' in change) target.rows.delete(change.key);
        else {
          const indexes = new Map<string, string>();
          for (const [index, key] of Object.entries(change.indexes ?? {})) indexes.set(index, encodeIndexKey(key));
          target.rows.set(change.key, { value: clone(change.value), indexes });
        }
      }
      Object.assign(target.positions, commit.positions);
    },
    async alias(name) {
      return aliases.get(name);
    },
    async setAlias(name, tableName) {
      aliases.set(name, tableName);
    },
    async drop(name) {
      tables.delete(name);
    },
    async close() {
      closed = true;
    },
  };
}
