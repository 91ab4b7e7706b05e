import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code, evaluated from this string (no separate file for a
 * bundler to miss). Its own connection to the file, with a tiny page cache
 * (a checkpoint copies WAL frames into the file past the cache). On each
 * request: `wal_checkpoint(PASSIVE)` copies the WAL while the store keeps
 * committing (it never waits for nor blocks the writer); frames committed
 * meanwhile stay behind, and a WAL never fully copied never starts again
 * from its beginning, so it would grow until the store's cap. Then
 * `wal_checkpoint(RESTART)` copies that short tail holding the write lock
 * (tens of ms; the store's commits wait for it asynchronously, never
 * blocking the event loop beyond SQLite's 5 ms busy timeout) and leaves the
 * WAL fully copied, so the next commit starts it again. A failed request
 * loses nothing: the frames stay in the WAL.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let db;
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('cache_size = -64');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 100');
} catch (error) {
  // An Error of a built-in class: the parent gets its message (a SqliteError arrives as its code alone).
  throw new Error(error && error.code ? error.code + ': ' + error.message : String(error && error.message || error));
}
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    db.pragma('wal_checkpoint(RESTART)');
    parentPort.postMessage('done');
  } catch (error) {
    parentPort.postMessage('failed');
  }
});
`;

/** An error's message (or code: an error thrown in the worker of a class not built in arrives as a plain object). */
function reason(error: unknown): string {
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  return typeof message === 'string' ? message : typeof code === 'string' ? code : String(error);
}

/** What a store tells its checkpointer. */
export interface Checkpointer {
  /** After each commit: the rows it wrote. Asks the worker for a checkpoint once enough were written since the last (one at a time). */
  committed(rows: number): void;
  /** Checkpoint requests the worker has answered so far. */
  readonly checkpoints: number;
  /** Ends the worker (after the pass it may be running; no final checkpoint: the WAL holds everything). */
  close(): Promise<void>;
}

/**
 * Checkpoints `file`'s WAL on a worker thread, so that copying it into the
 * file (hundreds of ms for ~100 MB of WAL) never blocks the event loop:
 * once `everyRows` rows were committed since the last request, and the
 * worker is idle (one checkpoint at a time). The worker starts on the first
 * request and is `unref()`ed: it never keeps the process alive. If it
 * fails, checkpoints fall back to the store's own connection (its
 * `wal_autocheckpoint` cap) and a warning says so.
 *
 * @example
 * const checkpointer = startCheckpointer('data/views.db', 20_000);
 * checkpointer.committed(1_000); // after each commit: the rows it wrote
 * await checkpointer.close(); // before closing the store's connection
 */
export function startCheckpointer(path: string, everyRows: number): Checkpointer {
  // Resolved now: the worker starts later, maybe after the process changed its directory.
  const file = resolve(path);
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  let pending = 0;
  let busy = false;
  let alive = true;
  let checkpoints = 0;
  const failed = (error: unknown) => {
    alive = false;
    process.emitWarning(
      `riverlog: the WAL checkpoint worker of ${file} failed (${reason(error)}); checkpoints run on the store's connection.`,
      { code: 'RIVERLOG_SQLITE_CHECKPOINTER' },
    );
  };
  /** Started on the first checkpoint due: a store that is only read never starts a thread (~9 MB of RSS). */
  const start = (): Worker => {
    const started = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file },
      stdout: false,
      stderr: false,
    });
    started.unref();
    exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    started.on('message', () => {
      busy = false;
      checkpoints++;
    });
    started.on('error', failed);
    started.once('exit', () => {
      alive = false;
    });
    return started;
  };
  return {
    get checkpoints() {
      return checkpoints;
    },
    committed(rows) {
      pending += rows;
      if (!alive || busy || pending < everyRows) return;
      pending = 0;
      try {
        worker ??= start();
        worker.postMessage('run');
        busy = true;
      } catch (error) {
        // E.g. no worker threads here, or a bundle without import.meta.url: the store's connection checkpoints (its cap).
        failed(error);
      }
    },
    async close() {
      if (alive && worker) {
        worker.ref(); // awaited: the process waits for it to end
        worker.postMessage('close');
      }
      alive = false;
      await exited;
    },
  };
}
