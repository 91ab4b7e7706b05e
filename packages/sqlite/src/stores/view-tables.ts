import type Database from 'better-sqlite3';
import { IdWindow } from './view-ids.js';
import { quoted } from './view-keys.js';

/**
 * The tables every view table shares: the registry (which SQL tables hold a
 * view table, its declared indexes and id window), checkpoints, fences and
 * aliases. Checkpoints and fences are keyed by the registry id, so a table
 * dropped and created again starts with none.
 */
export const VIEW_SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_view_registry (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so a dropped table's SQL names never come back
  table_name TEXT NOT NULL UNIQUE,
  sql_name TEXT NOT NULL,
  indexes TEXT NOT NULL,                -- JSON array of the declared index names: index i is column i<i+1>
  id_window INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS riverlog_view_checkpoints (
  table_id INTEGER NOT NULL,
  partition_id TEXT NOT NULL,
  last_offset TEXT NOT NULL,
  PRIMARY KEY (table_id, partition_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS riverlog_view_fences (
  table_id INTEGER NOT NULL,
  partition_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  PRIMARY KEY (table_id, partition_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS riverlog_view_aliases (
  alias TEXT PRIMARY KEY,
  table_name TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Rows per multi-row upsert, largest first: a commit of n rows takes at most n/256 + 12 statements. */
const CHUNKS = [256, 64, 16, 4, 1] as const;

/** SQLite's default cap on the parameters of one statement is 32,766. */
const MAX_PARAMETERS = 32_000;

/** Rows per multi-row statement for `remaining` rows of `width` parameters each. */
export function chunkFor(remaining: number, width: number): number {
  for (const size of CHUNKS) if (remaining >= size && size * width <= MAX_PARAMETERS) return size;
  return 1;
}

/** Keys per `IN (…)` list: a read of n keys pads its last list to the next size by repeating a key. */
const IN_SIZES = [1, 8, 64, 512] as const;

/** The SQL table name for a view table: the registry id keeps it unique, the rest only helps a person reading the file. */
function sqlNameOf(id: number, table: string): string {
  return `riverlog_view_${id}_${table.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 40)}`;
}

type Order = 'asc' | 'desc';
/** A stored row as selected: key, version, applied (JSON), value (JSON, null for a tombstone). */
export type RowTuple = [string, number, string, string | null];

/**
 * One view table in SQL, with its statements (prepared once per connection
 * and schema):
 *
 * - rows: `(key TEXT NOT NULL PRIMARY KEY, version INTEGER, applied TEXT, value TEXT, i1 BLOB, …)`,
 *   `value` NULL for a tombstone, a column per declared index holding the
 *   row's sort key in it (NULL: not in that index, and always for a
 *   tombstone) with a partial SQL index on it. A rowid table: its rows are a
 *   few hundred bytes of JSON, which WITHOUT ROWID would keep in interior
 *   pages too and order by key, so that a commit rewrote pages all over the
 *   table; here new rows append to its last pages, and the key and sort key
 *   indexes hold a rowid rather than the row;
 * - ids (when the id window is not 0): one row per commit, see {@link IdWindow}.
 */
export class ViewTable {
  /** The index columns, in declared order. */
  readonly columns: readonly string[];
  readonly idsName: string;
  /** The id window (undefined when `idWindow` is 0). */
  readonly ids: IdWindow | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    /** Its row in the registry. */
    readonly id: number,
    readonly sqlName: string,
    readonly indexes: readonly string[],
    readonly idWindow: number,
    /** The id window's cache this connection kept for the table, if any: it outlives a rolled back transaction. */
    ids?: IdWindow,
  ) {
    this.columns = indexes.map((_, i) => `i${i + 1}`);
    this.idsName = `${sqlName}_ids`;
    this.ids = idWindow > 0 ? (ids ?? new IdWindow(db, this.idsName, idWindow)) : undefined;
  }

  /** Creates the SQL tables and indexes. Call inside a write transaction. */
  create(): void {
    const t = quoted(this.sqlName);
    const columns = this.columns.map((c) => `, ${quoted(c)} BLOB`).join('');
    this.db.exec(
      `CREATE TABLE ${t} (key TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, applied TEXT NOT NULL, value TEXT${columns})`,
    );
    for (const column of this.columns) {
      this.db.exec(`CREATE INDEX ${quoted(`${this.sqlName}_${column}`)} ON ${t} (${quoted(column)}) WHERE ${quoted(column)} IS NOT NULL`);
    }
    if (this.idWindow > 0) this.db.exec(IdWindow.schema(this.idsName));
  }

  /** Drops the SQL tables (with their indexes). Call inside a write transaction. */
  dropTables(): void {
    this.db.exec(`DROP TABLE IF EXISTS ${quoted(this.sqlName)}`);
    this.db.exec(`DROP TABLE IF EXISTS ${quoted(this.idsName)}`);
  }

  private statement(id: string, sql: () => string, mode?: 'raw' | 'pluck'): Database.Statement {
    let found = this.statements.get(id);
    if (found === undefined) {
      found = this.db.prepare(sql());
      if (mode === 'raw') found.raw();
      if (mode === 'pluck') found.pluck();
      this.statements.set(id, found);
    }
    return found;
  }

  /** The stored JSON of a live row (undefined: absent or a tombstone). */
  value(key: string): string | undefined {
    const value = this.statement('value', () => `SELECT value FROM ${quoted(this.sqlName)} WHERE key = ?`, 'pluck').get(key) as
      | string
      | null
      | undefined;
    return value ?? undefined;
  }

  /** Calls `each` with the stored rows among `keys` (tombstones included), reading up to 512 keys per statement. */
  rows(keys: readonly string[], each: (row: RowTuple) => void): void {
    this.inLists(keys, 'rows', 'key, version, applied, value', each as (row: unknown[]) => void);
  }

  /** Calls `each` with `[key, version]` of the stored rows among `keys`. */
  versions(keys: readonly string[], each: (row: [string, number]) => void): void {
    this.inLists(keys, 'versions', 'key, version', each as (row: unknown[]) => void);
  }

  private inLists(keys: readonly string[], kind: string, what: string, each: (row: unknown[]) => void): void {
    const largest = IN_SIZES[IN_SIZES.length - 1] as number;
    for (let start = 0; start < keys.length; start += largest) {
      const count = Math.min(largest, keys.length - start);
      const size = IN_SIZES.find((s) => s >= count) as number;
      const args = keys.slice(start, start + count);
      // Padding repeats a key: IN ignores the repeat.
      while (args.length < size) args.push(args[0] as string);
      const statement = this.statement(
        `${kind}:${size}`,
        () => `SELECT ${what} FROM ${quoted(this.sqlName)} WHERE key IN (${Array(size).fill('?').join(', ')})`,
        'raw',
      );
      for (const row of statement.all(args) as unknown[][]) each(row);
    }
  }

  /**
   * Inserts `rows` new rows with one statement, skipping any key that exists;
   * returns how many it inserted. `args` holds, per row ({@link width}
   * values): key, version, applied, value and one sort key (or null) per
   * index column.
   */
  insert(rows: number, args: unknown[]): number {
    return this.statement(`insert:${rows}`, () => {
      const names = ['key', 'version', 'applied', 'value', ...this.columns].map(quoted);
      const row = `(${names.map(() => '?').join(', ')})`;
      return `INSERT INTO ${quoted(this.sqlName)} (${names.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')} ON CONFLICT (key) DO NOTHING`;
    }).run(args).changes;
  }

  /**
   * Rewrites `rows` rows with one statement, each only if its stored version
   * is the expected one; returns how many it rewrote. `args` holds, per row
   * ({@link width} + 1 values): key, expected version, then as for `insert`.
   */
  update(rows: number, args: unknown[]): number {
    return this.statement(`update:${rows}`, () => {
      const names = ['version', 'applied', 'value', ...this.columns].map(quoted);
      const row = `(${Array(names.length + 2)
        .fill('?')
        .join(', ')})`;
      const sets = names.map((name, i) => `${name} = v.column${i + 3}`).join(', ');
      const t = quoted(this.sqlName);
      return `UPDATE ${t} SET ${sets} FROM (VALUES ${Array(rows).fill(row).join(', ')}) AS v WHERE ${t}.key = v.column1 AND ${t}.version = v.column2`;
    }).run(args).changes;
  }

  /**
   * Rewrites version, applied and value of `rows` rows with one statement,
   * each only if its stored version is the expected one and its index
   * columns already hold the sort keys given (so SQLite leaves every index
   * as it is: the B-tree pages of an index are the most scattered a commit
   * touches); calls `each` with each key it rewrote. `args` as for `update`.
   */
  updateInPlace(rows: number, args: unknown[], each: (key: string) => void): void {
    const statement = this.statement(
      `updateInPlace:${rows}`,
      () => {
        const t = quoted(this.sqlName);
        const row = `(${Array(this.width + 1)
          .fill('?')
          .join(', ')})`;
        const same = this.columns.map((column, i) => ` AND ${t}.${quoted(column)} IS v.column${i + 6}`).join('');
        return `UPDATE ${t} SET version = v.column3, applied = v.column4, value = v.column5 FROM (VALUES ${Array(rows).fill(row).join(', ')}) AS v WHERE ${t}.key = v.column1 AND ${t}.version = v.column2${same} RETURNING key`;
      },
      'pluck',
    );
    for (const key of statement.all(args) as string[]) each(key);
  }

  /** Commits left that rewrite rows whole without trying `updateInPlace` first (the last try found most sort keys changed). */
  private wholeRewrites = 0;

  /** Whether this commit should try `updateInPlace` first: yes for a table with indexes, unless a recent try found most sort keys changed. */
  tryInPlace(): boolean {
    if (this.columns.length === 0) return false;
    if (this.wholeRewrites === 0) return true;
    this.wholeRewrites--;
    return false;
  }

  /** Notes how many of the rows tried in place were rewritten so: under half, and the next 7 commits skip the try (it costs a lookup per row). */
  triedInPlace(rewritten: number, tried: number): void {
    if (rewritten * 2 < tried) this.wholeRewrites = 7;
  }

  /** Values per row in `insert`'s `args`. */
  get width(): number {
    return 4 + this.columns.length;
  }

  /**
   * `[key, value, sort key]` of live rows in key order (no index) or in one
   * index's order, after `after` (exclusive) and within `[low, high)`, at most `limit`.
   */
  list(
    index: number | undefined,
    order: Order,
    limit: number,
    range: { low: Buffer; high: Buffer } | undefined,
    after: string | Buffer | undefined,
  ): [string, string, Buffer | string][] {
    const column = index === undefined ? 'key' : quoted(this.columns[index] as string);
    const id = `list:${index ?? '-'}:${order}:${range ? 'range' : 'all'}:${after === undefined ? 'first' : 'after'}`;
    const statement = this.statement(
      id,
      () => {
        const where = [index === undefined ? 'value IS NOT NULL' : `${column} IS NOT NULL`];
        if (range) where.push(`${column} >= ? AND ${column} < ?`);
        if (after !== undefined) where.push(`${column} ${order === 'asc' ? '>' : '<'} ?`);
        return `SELECT key, value, ${column} FROM ${quoted(this.sqlName)} WHERE ${where.join(' AND ')} ORDER BY ${column}${order === 'asc' ? '' : ' DESC'} LIMIT ?`;
      },
      'raw',
    );
    const args: unknown[] = [];
    if (range) args.push(range.low, range.high);
    if (after !== undefined) args.push(after);
    args.push(limit);
    return statement.all(args) as [string, string, Buffer | string][];
  }
}

/** What the registry holds for a view table. */
interface Registered {
  readonly id: number;
  readonly sqlName: string;
  readonly indexes: string;
  readonly idWindow: number;
}

/**
 * The view tables of one connection, as the registry says. The SQL schema
 * may change under it (another connection creates or drops a table), so
 * `sync()` — called inside the transaction of every operation — compares
 * `PRAGMA schema_version` with the one the cache was built on and drops the
 * cache when it moved. The id windows' caches are kept apart, by SQL name
 * (its registry id is never reused once committed), so that neither a schema change nor a rolled back
 * transaction makes a connection read a whole window again.
 */
export class ViewTables {
  private readonly cache = new Map<string, ViewTable | null>();
  private readonly windows = new Map<string, IdWindow>();
  private readonly registryNames: Database.Statement;
  private version = -1;
  private readonly schemaVersion: Database.Statement;
  private readonly findTable: Database.Statement;
  private readonly register: Database.Statement;
  private readonly setSqlName: Database.Statement;
  private readonly unregister: Database.Statement;
  private readonly deleteCheckpoints: Database.Statement;
  private readonly deleteFences: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.schemaVersion = db.prepare('PRAGMA schema_version').pluck();
    this.registryNames = db.prepare('SELECT sql_name FROM riverlog_view_registry').pluck();
    this.findTable = db.prepare(
      'SELECT id, sql_name AS sqlName, indexes, id_window AS idWindow FROM riverlog_view_registry WHERE table_name = ?',
    );
    this.register = db.prepare("INSERT INTO riverlog_view_registry (table_name, sql_name, indexes, id_window) VALUES (?, '', ?, ?)");
    this.setSqlName = db.prepare('UPDATE riverlog_view_registry SET sql_name = ? WHERE id = ?');
    this.unregister = db.prepare('DELETE FROM riverlog_view_registry WHERE id = ?');
    this.deleteCheckpoints = db.prepare('DELETE FROM riverlog_view_checkpoints WHERE table_id = ?');
    this.deleteFences = db.prepare('DELETE FROM riverlog_view_fences WHERE table_id = ?');
  }

  /** Forgets what it knew when the schema changed since. Call inside a transaction. */
  sync(): void {
    const version = this.schemaVersion.get() as number;
    if (version !== this.version) {
      this.cache.clear();
      this.version = version;
      if (this.windows.size > 0) {
        const live = new Set(this.registryNames.all() as string[]);
        for (const id of this.windows.keys()) if (!live.has(id)) this.windows.delete(id);
      }
    }
  }

  /** Forgets everything, e.g. after a rolled back transaction that may have changed the schema. */
  forget(): void {
    this.cache.clear();
    this.version = -1;
  }

  /** The SQL tables of a view table, undefined when it was not created. Call inside a transaction, after `sync()`. */
  find(table: string): ViewTable | undefined {
    let found = this.cache.get(table);
    if (found === undefined) {
      const row = this.findTable.get(table) as Registered | undefined;
      found = row
        ? new ViewTable(this.db, row.id, row.sqlName, JSON.parse(row.indexes) as string[], row.idWindow, this.windows.get(row.sqlName))
        : null;
      if (found?.ids) this.windows.set(found.sqlName, found.ids);
      this.cache.set(table, found);
    }
    return found ?? undefined;
  }

  /** Registers a view table and creates its SQL tables. Call inside a write transaction, after `find` found none. */
  create(table: string, indexes: readonly string[], idWindow: number): ViewTable {
    const id = Number(this.register.run(table, JSON.stringify(indexes), idWindow).lastInsertRowid);
    const sqlName = sqlNameOf(id, table);
    this.setSqlName.run(sqlName, id);
    const created = new ViewTable(this.db, id, sqlName, indexes, idWindow);
    created.create();
    this.cache.set(table, created);
    if (created.ids) this.windows.set(sqlName, created.ids);
    this.version = this.schemaVersion.get() as number;
    return created;
  }

  /** Drops a view table: its SQL tables, checkpoint, fences and registration. Call inside a write transaction. */
  drop(table: string): void {
    const found = this.find(table);
    if (!found) return;
    found.dropTables();
    this.deleteCheckpoints.run(found.id);
    this.deleteFences.run(found.id);
    this.unregister.run(found.id);
    this.cache.delete(table);
    this.windows.delete(found.sqlName);
    this.version = this.schemaVersion.get() as number;
  }
}
