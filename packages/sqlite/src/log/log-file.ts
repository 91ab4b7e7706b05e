import { LogFormatError, PartitionCountError, RiverlogError } from '@riverlog/core';
import Database from 'better-sqlite3';
import { describeSqliteError, sqliteCode } from '../connection.js';

/** The marker in `riverlog_log_meta` that says a file holds a riverlog log. */
export const LOG_FORMAT = 'riverlog-sqlite-log';
/** The layout version this code writes and reads. */
export const LOG_FORMAT_VERSION = 1;
export const DEFAULT_PARTITIONS = 4;
export const MAX_PARTITIONS = 1024;
/**
 * Offsets a partition may hold. An event's primary key is
 * `partition * PARTITION_SPAN + offset`, so one rowid range is one partition
 * in offset order, and positions stay exact JavaScript numbers (< 2^50).
 */
export const PARTITION_SPAN = 2 ** 40;

const META_TABLE = 'riverlog_log_meta';
const EVENTS_TABLE = 'riverlog_events';

const LOG_SCHEMA = `
CREATE TABLE ${META_TABLE} (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE ${EVENTS_TABLE} (
  position INTEGER PRIMARY KEY,   -- partition * 2^40 + offset
  appended_at INTEGER NOT NULL,   -- epoch ms, never decreasing within a partition
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  envelope TEXT NOT NULL          -- the CloudEvents JSON as appended
);
CREATE UNIQUE INDEX riverlog_events_id ON ${EVENTS_TABLE} (id);
CREATE VIEW riverlog_records AS
  SELECT position / ${PARTITION_SPAN} AS partition, position % ${PARTITION_SPAN} AS "offset", appended_at, type, id, envelope
  FROM ${EVENTS_TABLE};
`;

/** An open, checked log file: its connection and fixed partition count. */
export interface LogFile {
  readonly db: Database.Database;
  readonly partitions: number;
}

export interface OpenLogFileOptions {
  readonly path: string;
  readonly partitions: number | undefined;
  readonly synchronous: 'full' | 'normal';
  readonly busyTimeoutMs: number;
}

/**
 * Opens the log at `path`, creating it when the file is missing or an empty
 * database. Refuses, before writing anything, a file that is not SQLite, is
 * corrupt, belongs to another application, was written by a newer format, or
 * holds a different partition count.
 */
export function openLogFile(options: OpenLogFileOptions): LogFile {
  const { path } = options;
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs });
  } catch (error) {
    throw new LogFormatError(path, `it cannot be opened (${describeSqliteError(error)})`, { cause: error });
  }
  try {
    let partitions = inspect(db, path, options.partitions);
    if (partitions === undefined) partitions = create(db, path, options.partitions ?? DEFAULT_PARTITIONS, options.partitions);
    db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    return { db, partitions };
  } catch (error) {
    db.close();
    if (error instanceof RiverlogError) throw error;
    throw new LogFormatError(path, explain(error), { cause: error });
  }
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
  const stored = Number(meta.get('partitions'));
  if (!Number.isInteger(stored) || stored < 1 || stored > MAX_PARTITIONS) {
    throw new LogFormatError(
      path,
      `its partition count ${JSON.stringify(meta.get('partitions'))} is not a whole number in 1..${MAX_PARTITIONS}`,
    );
  }
  if (!tables.includes(EVENTS_TABLE)) throw new LogFormatError(path, `its ${EVENTS_TABLE} table is missing`);
  if (requested !== undefined && requested !== stored) throw new PartitionCountError(path, stored, requested);
  // A cheap probe of the pages every append and read touches first: the end
  // of each partition and of the id index. A full integrity check would read the whole file.
  const last = db.prepare(`SELECT position FROM ${EVENTS_TABLE} WHERE position >= ? AND position < ? ORDER BY position DESC LIMIT 1`);
  for (let partition = 0; partition < stored; partition++) last.get(partition * PARTITION_SPAN, (partition + 1) * PARTITION_SPAN);
  db.prepare(`SELECT id FROM ${EVENTS_TABLE} INDEXED BY riverlog_events_id ORDER BY id DESC LIMIT 1`).get();
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
      db.exec(LOG_SCHEMA);
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
