import type Database from 'better-sqlite3';

/** Rows per multi-row upsert, largest first. */
const CHUNKS = [100, 10, 1] as const;

/** Rows per multi-row upsert for `remaining` rows. */
export function chunkFor(remaining: number): number {
  return remaining >= CHUNKS[0] ? CHUNKS[0] : remaining >= CHUNKS[1] ? CHUNKS[1] : CHUNKS[2];
}

/** The registry of view tables: which SQL table holds a view table, and which column each of its indexes. */
export const VIEW_REGISTRY_SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_view_tables (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so a dropped table's name never comes back
  table_name TEXT NOT NULL UNIQUE,
  sql_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS riverlog_view_indexes (
  table_id INTEGER NOT NULL,
  index_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  PRIMARY KEY (table_id, index_name)
) WITHOUT ROWID;
`;

/** An SQL identifier in double quotes, any `"` doubled. */
export function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The SQL table name for a view table: the registry id keeps it unique, the rest only helps a person reading the file. */
function sqlNameOf(id: number, table: string): string {
  return `riverlog_view_${id}_${table.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 40)}`;
}

type Order = 'asc' | 'desc';

/**
 * One view table in SQL: `(key TEXT PRIMARY KEY, value TEXT, i1 BLOB, i2 BLOB, …)`
 * WITHOUT ROWID, a column per index holding the row's sort key in it (NULL:
 * not in that index) with a partial SQL index on it. A put is one upsert, a
 * delete one DELETE, a query one range scan of an SQL index.
 */
export class ViewTable {
  /** The index columns, in the order the upsert binds them. */
  readonly columnNames: readonly string[];
  private readonly upserts = new Map<number, Database.Statement>();
  private readonly queries = new Map<string, Database.Statement>();
  private getOne: Database.Statement | undefined;
  private getSome: Database.Statement | undefined;
  private deleteOne: Database.Statement | undefined;

  constructor(
    private readonly db: Database.Database,
    /** Its row in the registry. */
    readonly id: number,
    readonly sqlName: string,
    /** Index name → its column. */
    readonly columns: ReadonlyMap<string, string>,
  ) {
    this.columnNames = [...columns.values()];
  }

  /** The stored JSON of a row. */
  get(key: string): string | undefined {
    this.getOne ??= this.db.prepare(`SELECT value FROM ${quoted(this.sqlName)} WHERE key = ?`).pluck();
    return this.getOne.get(key) as string | undefined;
  }

  /** `[key, JSON]` of the stored rows among `keys`. */
  getMany(keys: readonly string[]): [string, string][] {
    this.getSome ??= this.db.prepare(`SELECT key, value FROM ${quoted(this.sqlName)} WHERE key IN (SELECT value FROM json_each(?))`).raw();
    return this.getSome.all(JSON.stringify(keys)) as [string, string][];
  }

  /** `[key, JSON]` rows of one index in sort-key order, all of them or those whose sort key is in `[low, high)`. */
  query(index: string, order: Order, limit: number, range?: { low: Buffer; high: Buffer }): [string, string][] {
    const column = this.columns.get(index);
    if (column === undefined) return [];
    const id = `${index}\u0000${order}\u0000${range ? 'range' : 'all'}`;
    let statement = this.queries.get(id);
    if (statement === undefined) {
      const c = quoted(column);
      const where = range ? `${c} >= ? AND ${c} < ?` : `${c} IS NOT NULL`;
      const direction = order === 'asc' ? '' : ' DESC';
      statement = this.db
        .prepare(`SELECT key, value FROM ${quoted(this.sqlName)} WHERE ${where} ORDER BY ${c}${direction}, key${direction} LIMIT ?`)
        .raw();
      this.queries.set(id, statement);
    }
    return (range ? statement.all(range.low, range.high, limit) : statement.all(limit)) as [string, string][];
  }

  /** Writes `rows` rows at once; `args` holds, per row, key, value and one sort key (or null) per index column. */
  upsert(rows: number, args: unknown[]): void {
    let statement = this.upserts.get(rows);
    if (statement === undefined) {
      const names = ['key', 'value', ...this.columnNames].map(quoted);
      const row = `(${names.map(() => '?').join(', ')})`;
      const updates = names
        .slice(1)
        .map((name) => `${name} = excluded.${name}`)
        .join(', ');
      statement = this.db.prepare(
        `INSERT INTO ${quoted(this.sqlName)} (${names.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')} ON CONFLICT (key) DO UPDATE SET ${updates}`,
      );
      this.upserts.set(rows, statement);
    }
    statement.run(args);
  }

  delete(key: string): void {
    this.deleteOne ??= this.db.prepare(`DELETE FROM ${quoted(this.sqlName)} WHERE key = ?`);
    this.deleteOne.run(key);
  }
}

/**
 * The view tables of one connection, as the registry says. The SQL schema
 * may change under it (another connection creates, widens or drops a table),
 * so `sync()` — called inside the transaction of every operation — compares
 * `PRAGMA schema_version` with the one the cache was built on and drops the
 * cache when it moved.
 */
export class ViewTables {
  private readonly cache = new Map<string, ViewTable | null>();
  private version = -1;
  private readonly schemaVersion: Database.Statement;
  private readonly findTable: Database.Statement;
  private readonly findColumns: Database.Statement;
  private readonly registerTable: Database.Statement;
  private readonly setSqlName: Database.Statement;
  private readonly registerColumn: Database.Statement;
  private readonly unregisterTable: Database.Statement;
  private readonly unregisterColumns: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.schemaVersion = db.prepare('PRAGMA schema_version').pluck();
    this.findTable = db.prepare('SELECT id, sql_name FROM riverlog_view_tables WHERE table_name = ?').raw();
    this.findColumns = db.prepare('SELECT index_name, column_name FROM riverlog_view_indexes WHERE table_id = ?').raw();
    this.registerTable = db.prepare("INSERT INTO riverlog_view_tables (table_name, sql_name) VALUES (?, '')");
    this.setSqlName = db.prepare('UPDATE riverlog_view_tables SET sql_name = ? WHERE id = ?');
    this.registerColumn = db.prepare('INSERT INTO riverlog_view_indexes (table_id, index_name, column_name) VALUES (?, ?, ?)');
    this.unregisterTable = db.prepare('DELETE FROM riverlog_view_tables WHERE id = ?');
    this.unregisterColumns = db.prepare('DELETE FROM riverlog_view_indexes WHERE table_id = ?');
  }

  /** Forgets what it knew when the schema changed since. Call inside a transaction. */
  sync(): void {
    const version = this.schemaVersion.get() as number;
    if (version !== this.version) {
      this.cache.clear();
      this.version = version;
    }
  }

  /** Forgets everything, e.g. after a rolled back transaction that may have changed the schema. */
  forget(): void {
    this.cache.clear();
    this.version = -1;
  }

  /** The SQL table of a view table, undefined when it has none (no row was ever put). */
  find(table: string): ViewTable | undefined {
    let found = this.cache.get(table);
    if (found === undefined) {
      const row = this.findTable.get(table) as [number, string] | undefined;
      found = row ? new ViewTable(this.db, row[0], row[1], new Map(this.findColumns.all(row[0]) as [string, string][])) : null;
      this.cache.set(table, found);
    }
    return found ?? undefined;
  }

  /** The SQL table of a view table with a column for each of `indexes`, created or widened now if need be. Call inside a write transaction. */
  ensure(table: string, indexes: Iterable<string>): ViewTable {
    let found = this.find(table);
    if (found) {
      let missing = false;
      for (const index of indexes) if (!found.columns.has(index)) missing = true;
      if (!missing) return found;
    } else {
      const id = Number(this.registerTable.run(table).lastInsertRowid);
      const sqlName = sqlNameOf(id, table);
      this.setSqlName.run(sqlName, id);
      this.db.exec(`CREATE TABLE ${quoted(sqlName)} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
      found = new ViewTable(this.db, id, sqlName, new Map());
    }
    const { id, sqlName } = found;
    const columns = new Map(found.columns);
    for (const index of indexes) {
      if (columns.has(index)) continue;
      const column = `i${columns.size + 1}`;
      // A BLOB of the row's sort key; rows outside the index hold NULL, which the partial SQL index leaves out.
      this.db.exec(`ALTER TABLE ${quoted(sqlName)} ADD COLUMN ${quoted(column)} BLOB`);
      this.db.exec(
        `CREATE INDEX ${quoted(`${sqlName}_${column}`)} ON ${quoted(sqlName)} (${quoted(column)}) WHERE ${quoted(column)} IS NOT NULL`,
      );
      this.registerColumn.run(id, index, column);
      columns.set(index, column);
    }
    const widened = new ViewTable(this.db, id, sqlName, columns);
    this.cache.set(table, widened);
    this.version = this.schemaVersion.get() as number;
    return widened;
  }

  /** Drops a view table's SQL table (with its indexes) and its registration. Call inside a write transaction. */
  drop(table: string): void {
    const found = this.find(table);
    if (!found) return;
    this.db.exec(`DROP TABLE IF EXISTS ${quoted(found.sqlName)}`);
    this.unregisterColumns.run(found.id);
    this.unregisterTable.run(found.id);
    this.cache.delete(table);
    this.version = this.schemaVersion.get() as number;
  }
}
