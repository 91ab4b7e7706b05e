import { backoffPolicy, ClosedError, RiverlogError, retryForever } from '@riverlog/core';
import Database from 'better-sqlite3';

/**
 * How long SQLite itself waits for another connection's lock, blocking the
 * process (ms): a few milliseconds only. Longer waits happen in
 * {@link whileBusy}, asynchronously, so timers (lease renewal, heartbeats)
 * keep running meanwhile.
 */
export const BUSY_TIMEOUT_MS = 5;
/** How long a call keeps retrying a locked database, in all, before it fails (ms). */
export const LOCK_PATIENCE_MS = 10_000;
/**
 * The wait while a database is locked at open, when the call cannot wait
 * asynchronously (factories are synchronous): only creating a file's tables
 * takes a write lock there.
 */
export const OPEN_BUSY_TIMEOUT_MS = 2_000;

/** Waits between attempts on a locked database: short, since SQLite write transactions are. */
const busyBackoff = backoffPolicy({ initialMs: 2, maxMs: 100 });

/** True for SQLite's "database is locked" errors (`SQLITE_BUSY`, `SQLITE_BUSY_*`). */
export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_BUSY' || (code?.startsWith('SQLITE_BUSY_') ?? false);
}

/**
 * Runs `work` (synchronous database calls, e.g. a transaction) and, while
 * another connection holds the lock, runs it again after an asynchronous
 * pause, for up to `patienceMs` in all; then rethrows the busy error. Each
 * attempt blocks the process for at most SQLite's `busy_timeout` of a few ms.
 *
 * @example
 * await whileBusy(() => saveAll.immediate(group, positions));
 */
export function whileBusy<T>(work: () => T, options: { readonly patienceMs?: number; readonly signal?: AbortSignal } = {}): Promise<T> {
  const deadline = performance.now() + (options.patienceMs ?? LOCK_PATIENCE_MS);
  return retryForever(async () => work(), {
    policy: busyBackoff,
    retryable: (error) => isBusy(error) && performance.now() < deadline,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Where a store keeps its tables: a file path (the store opens and owns its
 * own connection; a plain string is the same as `{ path }`) or an open
 * better-sqlite3 database that the caller owns and closes, e.g.
 * `log.database` to share one connection with the log.
 */
export type SqliteSource = string | { readonly path: string } | { readonly database: Database.Database };

/** A better-sqlite3 error's code and message in one phrase, e.g. `SQLITE_NOTADB: file is not a database`. */
export function describeSqliteError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** The SQLite result code of an error thrown by better-sqlite3, if any. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** A connection a store works on, and whether closing the store closes it. */
export interface StoreConnection {
  readonly db: Database.Database;
  readonly location: string;
  /** Opened by the store from `{ path }` (its settings are the store's to choose), not a `{ database }` given. */
  readonly owned: boolean;
  /** Throws `ClosedError` once the store or a shared connection was closed. */
  ensureOpen(): void;
  /**
   * Runs `work` with {@link whileBusy}: a locked database is waited for
   * asynchronously, never by blocking the process. Checks that the store is
   * open before each attempt. Use it for every write transaction.
   *
   * @example
   * await connection.write(() => saveAll.immediate(group, positions));
   */
  write<T>(work: () => T): Promise<T>;
  close(): void;
}

/**
 * Opens (or adopts) the database of a store and creates its tables when
 * missing, in one transaction. A file that is not an SQLite database is
 * refused with one error naming it, before anything is written.
 */
export function openStoreConnection(
  given: SqliteSource,
  what: string,
  schema: string,
  synchronous: 'FULL' | 'NORMAL' = 'FULL',
): StoreConnection {
  const source = typeof given === 'string' ? { path: given } : given;
  if (!source || typeof source !== 'object' || (!('path' in source) && !('database' in source))) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${what}: pass { path } of an SQLite file or { database } (an open better-sqlite3 Database).`,
    );
  }
  const owned = 'path' in source;
  const location = owned ? source.path : source.database.name;
  let db: Database.Database;
  if (owned) {
    if (typeof source.path !== 'string' || source.path === '') {
      throw new RiverlogError('INVALID_OPTION', `${what}: path must be a non-empty string, got ${JSON.stringify(source.path)}.`);
    }
    try {
      db = new Database(source.path, { timeout: OPEN_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw new RiverlogError(
        'STORE_OPEN_FAILED',
        `${what}: cannot open ${location} (${describeSqliteError(error)}). Nothing was changed.`,
        {
          cause: error,
        },
      );
    }
  } else {
    db = source.database;
    if (!db.open) throw new ClosedError(`${what} (its database ${location})`);
  }
  try {
    // Reading the schema first refuses a file that is not a database before anything is written.
    const existing = new Set(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]);
    if (owned && db.pragma('journal_mode', { simple: true }) !== 'wal' && !db.memory) db.pragma('journal_mode = WAL');
    if (owned) db.pragma(`synchronous = ${synchronous}`);
    const missing = [...schema.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].some((match) => !existing.has(match[1] as string));
    if (missing) db.transaction(() => db.exec(schema)).immediate();
    if (owned) db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (error) {
    if (owned) db.close();
    throw new RiverlogError('STORE_OPEN_FAILED', `${what}: cannot use ${location} (${describeSqliteError(error)}). Nothing was changed.`, {
      cause: error,
    });
  }
  let closed = false;
  const ensureOpen = () => {
    if (closed || !db.open) throw new ClosedError(`${what} on ${location}`);
  };
  return {
    db,
    location,
    owned,
    ensureOpen,
    write(work) {
      return whileBusy(() => {
        ensureOpen();
        return work();
      }).catch((error: unknown) => {
        throw isBusy(error)
          ? new RiverlogError(
              'STORE_BUSY',
              `${what} on ${location}: another connection held the file's write lock for over ${LOCK_PATIENCE_MS} ms. Nothing was written; retry (workers do). Keep leases in a file of their own so a stalled writer cannot hold them up.`,
              { cause: error },
            )
          : error;
      });
    },
    close() {
      if (closed) return;
      closed = true;
      if (owned) db.close();
    },
  };
}
