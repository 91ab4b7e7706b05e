import { ClosedError } from '../errors.js';
import { checkFence } from '../fence.js';
import { checkOptions } from '../options.js';
import type { StoredRow, ViewPage, ViewRow, ViewStore, ViewStoreLimits, ViewTableSpec } from '../ports.js';
import type { PositionMap } from '../position.js';
import {
  checkCommit,
  checkQuery,
  checkSameTable,
  checkTableSpec,
  DEFAULT_VIEW_LIMITS,
  encodeCursor,
  idConflict,
  idPruneEvery,
  rowConflict,
  unknownTable,
} from '../view-rules.js';

/** A row as kept: its value as JSON (undefined: a tombstone), what it applied, its version and sort positions. */
interface MemoryRow {
  readonly json: string | undefined;
  readonly applied: PositionMap;
  readonly version: number;
  /** Index name → encoded index key followed by the row key. */
  readonly sorts: ReadonlyMap<string, string> | undefined;
}

interface MemoryTable {
  readonly indexes: readonly string[];
  readonly idWindow: number;
  readonly rows: Map<string, MemoryRow>;
  /** Remembered event ids, oldest first (a Set keeps insertion order). */
  readonly ids: Set<string>;
  readonly positions: Record<string, string>;
  readonly fences: Record<string, number>;
}

export interface MemoryViewStoreOptions {
  /** Smaller limits than the defaults (10,000 rows per commit, 1 MiB rows), e.g. to test how a builder cuts commits. */
  readonly limits?: Partial<ViewStoreLimits>;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A view store in memory with the semantics of the durable ones: guarded
 * rows (a version per row, tombstones that keep what they applied), an id
 * window per table, fenced commits that write all or nothing, declared
 * indexes, paged lists and compare-and-set aliases. Values are stored as
 * JSON, as SQLite stores them. Limits: 10,000 rows per commit and 1 MiB per
 * row, the SQLite store's, unless smaller ones are given.
 *
 * @example
 * const store = memoryViewStore();
 * await store.createTable('products@1', { indexes: ['byCategory'], idWindow: 1000 });
 * await store.commit('products@1', {
 *   rows: [{ key: 'p1', value: { name: 'Boot' }, applied: { '0': '3' }, expectedVersion: 0, indexes: { byCategory: ['shoes'] } }],
 *   ids: ['01J…'],
 *   positions: { '0': '3' },
 * });
 */
export function memoryViewStore(options: MemoryViewStoreOptions = {}): ViewStore {
  checkOptions('memoryViewStore', options, ['limits']);
  if (options.limits) checkOptions('memoryViewStore limits', options.limits, ['maxRowsPerCommit', 'maxRowBytes']);
  const limits: ViewStoreLimits = Object.freeze({ ...DEFAULT_VIEW_LIMITS, ...options.limits });
  const tables = new Map<string, MemoryTable>();
  const aliases = new Map<string, string>();
  let closed = false;

  function find(name: string): MemoryTable | undefined {
    if (closed) throw new ClosedError('memory view store');
    return tables.get(name);
  }

  const parse = (json: string | undefined): unknown => (json === undefined ? undefined : JSON.parse(json));

  return {
    limits,
    async createTable(name, spec: ViewTableSpec) {
      checkTableSpec(name, spec);
      const found = find(name);
      if (found) {
        checkSameTable(name, found, spec);
        return;
      }
      tables.set(name, {
        indexes: [...spec.indexes],
        idWindow: spec.idWindow,
        rows: new Map(),
        ids: new Set(),
        positions: {},
        fences: {},
      });
    },
    async get(name, key) {
      return parse(find(name)?.rows.get(key)?.json);
    },
    async rows(name, keys) {
      const found = new Map<string, StoredRow>();
      const rows = find(name)?.rows;
      if (!rows) return found;
      for (const key of keys) {
        const row = rows.get(key);
        if (row) found.set(key, { key, value: parse(row.json), applied: { ...row.applied }, version: row.version });
      }
      return found;
    },
    async list(name, query): Promise<ViewPage> {
      const table = find(name);
      if (!table) return { rows: [] };
      const q = checkQuery(name, query, table.indexes);
      const matches: { at: string; key: string; json: string }[] = [];
      for (const [key, row] of table.rows) {
        if (row.json === undefined) continue;
        const at = q.index === undefined ? key : row.sorts?.get(q.index);
        if (at === undefined || !at.startsWith(q.prefix)) continue;
        if (q.after !== undefined && (q.reverse ? at >= q.after : at <= q.after)) continue;
        matches.push({ at, key, json: row.json });
      }
      matches.sort(q.reverse ? (a, b) => compare(b.at, a.at) : (a, b) => compare(a.at, b.at));
      const page = matches.slice(0, q.limit);
      const rows = page.map((m): ViewRow => ({ key: m.key, value: JSON.parse(m.json) }));
      const last = page[page.length - 1];
      return matches.length > q.limit && last ? { rows, cursor: encodeCursor(last.at) } : { rows };
    },
    async positions(name) {
      return { ...find(name)?.positions };
    },
    async seen(name, ids) {
      const remembered = find(name)?.ids;
      const found = new Set<string>();
      if (remembered) for (const id of ids) if (remembered.has(id)) found.add(id);
      return found;
    },
    async commit(name, commit) {
      const table = find(name);
      if (!table) throw unknownTable(name);
      const { json, sorts } = checkCommit(name, commit, limits, table.indexes);
      checkFence(`View table ${name}`, commit.fence, (partition) => table.fences[partition]);
      // Guards first, against the rows as this commit leaves them (a key written twice sees its first write).
      const staged = new Map<string, MemoryRow>();
      commit.rows.forEach((write, i) => {
        const current = staged.get(write.key) ?? table.rows.get(write.key);
        const version = current?.version ?? 0;
        if (version !== write.expectedVersion) throw rowConflict(name, write.key, write.expectedVersion, version);
        staged.set(write.key, { json: json[i], applied: { ...write.applied }, version: version + 1, sorts: sorts[i] });
      });
      if (table.idWindow > 0) {
        const fresh = new Set<string>();
        for (const id of commit.ids) {
          if (table.ids.has(id) || fresh.has(id)) throw idConflict(name, id);
          fresh.add(id);
        }
      }
      // Nothing can fail from here on: the commit is written whole.
      for (const [key, row] of staged) table.rows.set(key, row);
      if (table.idWindow > 0) {
        for (const id of commit.ids) table.ids.add(id);
        if (table.ids.size >= table.idWindow + idPruneEvery(table.idWindow)) {
          let extra = table.ids.size - table.idWindow;
          for (const id of table.ids) {
            if (extra-- <= 0) break;
            table.ids.delete(id);
          }
        }
      }
      Object.assign(table.positions, commit.positions);
      if (commit.fence) Object.assign(table.fences, commit.fence);
    },
    async alias(name) {
      if (closed) throw new ClosedError('memory view store');
      return aliases.get(name);
    },
    async setAlias(name, table, expected) {
      if (closed) throw new ClosedError('memory view store');
      if (aliases.get(name) !== expected) return false;
      aliases.set(name, table);
      return true;
    },
    async drop(name) {
      if (closed) throw new ClosedError('memory view store');
      tables.delete(name);
    },
    async close() {
      closed = true;
    },
  };
}
