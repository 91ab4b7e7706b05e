import { LogFormatError, PartitionCountError, RiverlogError } from '@riverlog/core';
import Database from 'better-sqlite3';
import { BUSY_TIMEOUT_MS, describeSqliteError, OPEN_BUSY_TIMEOUT_MS, sqliteCode } from '../connection.js';

/** The marker in `riverlog_log_meta` that says a file holds a riverlog log. */
export const LOG_FORMAT = 'riverlog-sqlite-log';
/** The layout version this code writes and reads. */
export const LOG_FORMAT_VERSION = 2;
export const DEFAULT_PARTITIONS = 4;
export const MAX_PARTITIONS = 1024;
/**
 * Offsets a partition may hold. An event's primary key is
 * `partition * PARTITION_SPAN + offset`, so one rowid range is one partition
 * in offset order, and positions stay exact JavaScript numbers (< 2^50).
 */
export const PARTITION_SPAN = 2 ** 40;

const META_TABLE = 'riverlog_log_meta';
const IDS_TABLE = 'riverlog_event_ids';
const TYPES_TABLE = 'riverlog_event_types';
const TIMES_TABLE = 'riverlog_append_times';

/** The table of one partition's events, `riverlog_events_<partition>`. */
export function eventsTable(partition: number): string {
  return `riverlog_events_${partition}`;
}

// Each partition is a table of its own, keyed by offset, so every append
// adds rows at the right edge of B-trees (SQLite's cheapest insert). In one
// shared table keyed by partition * 2^40 + offset, all partitions but the
// last grow in the middle of the tree, and splitting pages there cost a
// fifth to a quarter of the append rate (measured with 4 partitions). A row holds
// only what a read needs: its type as a small code (a read filters on it)
// and the envelope. Ids live in one table of their own (ULIDs grow, so they
// too land at its right edge), for dedupe across the whole log. Each append
// records its time once per partition it touches, at the first offset it
// wrote there, which covers the events after it up to the next mark.
function logSchema(partitions: number): string {
  const tables = Array.from({ length: partitions }, (_, partition) => eventsTable(partition));
  // SQLite allows 500 terms in one UNION: the view unions groups of 100.
  const groups: string[] = [];
  for (let first = 0; first < partitions; first += 100) {
    const terms = tables
      .slice(first, first + 100)
      .map((table, i) => `SELECT ${first + i} AS partition, "offset", type_code, envelope FROM ${table}`);
    groups.push(`SELECT * FROM (${terms.join(' UNION ALL ')})`);
  }
  return `
CREATE TABLE ${META_TABLE} (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE ${IDS_TABLE} (
  id TEXT PRIMARY KEY,
  position INTEGER NOT NULL       -- partition * 2^40 + offset
) WITHOUT ROWID;
CREATE TABLE ${TYPES_TABLE} (
  code INTEGER PRIMARY KEY,
  type TEXT NOT NULL UNIQUE
);
CREATE TABLE ${TIMES_TABLE} (
  position INTEGER PRIMARY KEY,   -- partition * 2^40 + the first offset an append wrote there
  appended_at INTEGER NOT NULL    -- epoch ms, never decreasing within a partition
);
${tables.map((table) => `CREATE TABLE ${table} ("offset" INTEGER PRIMARY KEY, type_code INTEGER NOT NULL, envelope TEXT NOT NULL);`).join('\n')}
CREATE VIEW riverlog_records AS
  SELECT r.partition, r."offset",
    (SELECT a.appended_at FROM ${TIMES_TABLE} a
      WHERE a.position <= r.partition * ${PARTITION_SPAN} + r."offset" AND a.position >= r.partition * ${PARTITION_SPAN}
      ORDER BY a.position DESC LIMIT 1) AS appended_at,
    t.type, json_extract(r.envelope, '$.id') AS id, r.envelope
  FROM (${groups.join(' UNION ALL ')}) r LEFT JOIN ${TYPES_TABLE} t ON t.code = r.type_code;
`;
}

/** An open, checked log file: its connection and fixed partition count. */
export interface LogFile {
  readonly db: Database.Database;
  readonly partitions: number;
}

export interface OpenLogFileOptions {
  readonly path: string;
  readonly partitions: number | undefined;
  readonly synchronous: 'full' | 'normal';
}

/**
 * Opens the log at `path`, creating it when the file is missing or an empty
 * database. Refuses, before writing anything, a file that is not SQLite, is
 * corrupt, belongs to another application, was written by a newer format, or
 * holds a different partition count (`LogFormatError`, `PartitionCountError`).
 * A file it may not open, create or write (permissions, a read-only
 * directory, a missing directory, a lock held too long) is `LOG_OPEN_FAILED`.
 *
 * Opening is synchronous: a lock is waited for here by blocking, up to
 * {@link OPEN_BUSY_TIMEOUT_MS}; afterwards the connection waits at most
 * {@link BUSY_TIMEOUT_MS} at a time, the rest asynchronously.
 */
export function openLogFile(options: OpenLogFileOptions): LogFile {
  const { path } = options;
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: OPEN_BUSY_TIMEOUT_MS });
  } catch (error) {
    throw openFailure(path, error);
  }
  try {
    let partitions = inspect(db, path, options.partitions);
    if (partitions === undefined) partitions = create(db, path, options.partitions ?? DEFAULT_PARTITIONS, options.partitions);
    db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return { db, partitions };
  } catch (error) {
    db.close();
    if (error instanceof RiverlogError) throw error;
    if (isFormatFailure(error)) throw new LogFormatError(path, explain(error), { cause: error });
    throw openFailure(path, error);
  }
}

/** The file's content is not a usable database: corrupt or not SQLite at all. */
export function isFormatFailure(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_NOTADB' || (code?.startsWith('SQLITE_CORRUPT') ?? false);
}

/** The file could not be opened, created or written: where it lives is the problem, not what it holds. */
function openFailure(path: string, error: unknown): RiverlogError {
  const code = sqliteCode(error);
  const hint =
    code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')
      ? `another connection held its lock for over ${OPEN_BUSY_TIMEOUT_MS} ms; open it again`
      : 'check that its directory exists and that this process may create and write files in it (SQLite writes the -wal and -shm files beside it)';
  return new RiverlogError(
    'LOG_OPEN_FAILED',
    `Cannot open the log ${path} (${describeSqliteError(error)}): ${hint}. Nothing was changed.`,
    {
      cause: error,
    },
  );
}

/** Why SQLite refused the file, in words. */
export function explain(error: unknown): string {
  switch (sqliteCode(error)) {
    case 'SQLITE_NOTADB':
      return `it is not an SQLite database (${describeSqliteError(error)})`;
    case 'SQLITE_CORRUPT':
    case 'SQLITE_CORRUPT_INDEX':
    case 'SQLITE_CORRUPT_SEQUENCE':
    case 'SQLITE_CORRUPT_VTAB':
      return `it is corrupt (${describeSqliteError(error)}); restore it from a backup`;
    default:
      return describeSqliteError(error);
  }
}

function tablesOf(db: Database.Database): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
}

/** The stored partition count of an existing log; undefined when the file holds no log yet. */
function inspect(db: Database.Database, path: string, requested: number | undefined): number | undefined {
  const tables = tablesOf(db);
  if (tables.includes(META_TABLE)) return checkExisting(db, path, tables, requested);
  // Our own store tables (checkpoints, views, ...) may share the file; anything else is another application's.
  const foreign = tables.filter((name) => !name.startsWith('riverlog_') && !name.startsWith('sqlite_'));
  if (foreign.length > 0) {
    const shown = foreign.length > 5 ? `${foreign.slice(0, 5).join(', ')}, …` : foreign.join(', ');
    throw new LogFormatError(
      path,
      `it is an SQLite database of another application (tables ${shown}) with no riverlog log in it; give the log a file of its own`,
    );
  }
  return undefined;
}

function checkExisting(db: Database.Database, path: string, tables: readonly string[], requested: number | undefined): number {
  const meta = new Map(db.prepare(`SELECT key, value FROM ${META_TABLE}`).raw().all() as [string, string][]);
  if (meta.get('format') !== LOG_FORMAT) {
    throw new LogFormatError(path, `its ${META_TABLE} table does not mark a riverlog log (format ${JSON.stringify(meta.get('format'))})`);
  }
  const version = Number(meta.get('version'));
  if (!Number.isInteger(version) || version < 1) {
    throw new LogFormatError(path, `its format version ${JSON.stringify(meta.get('version'))} is not a version number`);
  }
  if (version > LOG_FORMAT_VERSION) {
    throw new LogFormatError(
      path,
      `it was written in format version ${version}, and this @riverlog/sqlite reads version ${LOG_FORMAT_VERSION}; upgrade @riverlog/sqlite`,
    );
  }
  if (version < LOG_FORMAT_VERSION) {
    throw new LogFormatError(
      path,
      `it was written in format version ${version} by a pre-release @riverlog/sqlite, and this one reads version ${LOG_FORMAT_VERSION}; recreate the log`,
    );
  }
  const stored = Number(meta.get('partitions'));
  if (!Number.isInteger(stored) || stored < 1 || stored > MAX_PARTITIONS) {
    throw new LogFormatError(
      path,
      `its partition count ${JSON.stringify(meta.get('partitions'))} is not a whole number in 1..${MAX_PARTITIONS}`,
    );
  }
  for (const table of [IDS_TABLE, TYPES_TABLE, TIMES_TABLE, ...Array.from({ length: stored }, (_, p) => eventsTable(p))]) {
    if (!tables.includes(table)) throw new LogFormatError(path, `its ${table} table is missing`);
  }
  if (requested !== undefined && requested !== stored) throw new PartitionCountError(path, stored, requested);
  // A cheap probe of the pages every append and read touches first: the end
  // of each partition and of the id index. A full integrity check would read the whole file.
  for (let partition = 0; partition < stored; partition++) {
    db.prepare(`SELECT "offset" FROM ${eventsTable(partition)} ORDER BY "offset" DESC LIMIT 1`).get();
  }
  db.prepare(`SELECT id FROM ${IDS_TABLE} ORDER BY id DESC LIMIT 1`).get();
  if (db.pragma('journal_mode', { simple: true }) !== 'wal' && !db.memory) db.pragma('journal_mode = WAL');
  return stored;
}

function create(db: Database.Database, path: string, partitions: number, requested: number | undefined): number {
  if (!db.memory) {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new RiverlogError('LOG_OPEN_FAILED', `${path}: SQLite refused WAL mode (journal_mode is ${String(mode)}).`);
  }
  // Another process may be creating the same file: decide again under the write lock.
  const existing = db
    .transaction((): number | undefined => {
      const tables = tablesOf(db);
      if (tables.includes(META_TABLE)) return checkExisting(db, path, tables, requested);
      db.exec(logSchema(partitions));
      const insert = db.prepare(`INSERT INTO ${META_TABLE} (key, value) VALUES (?, ?)`);
      insert.run('format', LOG_FORMAT);
      insert.run('version', String(LOG_FORMAT_VERSION));
      insert.run('partitions', String(partitions));
      insert.run('created', new Date().toISOString());
      return undefined;
    })
    .immediate();
  return existing ?? partitions;
}
