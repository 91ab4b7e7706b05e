import { resolve } from 'node:path';
import {
  ClosedError,
  type Envelope,
  type EventLog,
  LogFormatError,
  type PartitionInfo,
  type Position,
  partitionForSubject,
  type ReadBatch,
  type ReadOptions,
  RiverlogError,
} from '@riverlog/core';
import {
  assertEnvelopeFits,
  checkOptions,
  checkReadOptions,
  envelopeText,
  invalidEnvelope,
  type PartitionStart,
  preview,
  resolveStart,
  waitForChange,
} from '@riverlog/core/backend';
import type Database from 'better-sqlite3';
import { describeSqliteError, isBusy, LOCK_PATIENCE_MS, whileBusy } from '../connection.js';
import { ChangeWatcher } from './change-watcher.js';
import { explain, isFormatFailure, MAX_PARTITIONS, openLogFile, PARTITION_SPAN } from './log-file.js';
import { LogWriter } from './log-writer.js';
import { PageReader, type PageRow } from './page-reader.js';
import { PartitionTables } from './partition-tables.js';

export interface SqliteLogOptions {
  /** The log file. Created (with its partitions) when it does not exist. */
  readonly path: string;
  /**
   * Partitions of a new log (default 4), fixed for its life and stored in the
   * file. When given for an existing log it must match, else `PartitionCountError`.
   */
  readonly partitions?: number;
  /** The largest serialized envelope accepted, in bytes. Default 1 MiB. */
  readonly maxEventBytes?: number;
  /**
   * `'full'` (default): an acknowledged append survives a power cut (the WAL
   * is fsynced at every commit). `'normal'`: it survives a crash of the
   * process, but the last commits may be lost if the machine loses power.
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * How long an append (or a read) keeps trying while another process holds
   * the file's lock, in all, before it fails with `LOG_BUSY` (ms). The wait is
   * asynchronous: SQLite blocks the process for a few ms at a time at most.
   * Default 10,000.
   */
  readonly busyTimeoutMs?: number;
}

/** The SQLite log: an `EventLog` plus what is specific to the file. */
export interface SqliteLog extends EventLog {
  /** The absolute path of the log file. */
  readonly path: string;
  /** The fixed partition count stored in the file. */
  readonly partitionCount: number;
  /**
   * The log's own better-sqlite3 connection, e.g. to keep a view store or the
   * checkpoints in the same file: `sqliteViewStore({ database: log.database })`.
   * It closes with the log.
   */
  readonly database: Database.Database;
}

const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
const DEFAULT_BATCH_SIZE = 1000;
/** How long a read skips pages a type filter left empty before it yields an empty batch (ms). */
const FILTERED_SCAN_MS = 10;

/** Logs open in this process, by file: an append wakes the followers of every one of them at once. */
const openLogs = new Map<string, Set<() => void>>();

/**
 * Opens (or creates) an append-only event log in one SQLite file: a fixed
 * number of partitions, per-partition offsets counting from 0, WAL mode so
 * several processes may append to and read the same file. Opening is
 * synchronous and throws `LogFormatError` / `PartitionCountError` for a file
 * it cannot use, without changing it, and `LOG_OPEN_FAILED` for one it may
 * not open or create (permissions, a read-only directory). Partitions are
 * fixed: they have no parents and never close. Each record carries
 * `storedAt`, its append time. Stored text that is not valid UTF-8 (a
 * foreign writer) is read as a record with `event: undefined` and the reason
 * in `error`, never with the bytes replaced.
 *
 * An event id is stored once for the whole life of the log: appending it
 * again returns the position it already has.
 *
 * @example
 * import { sqliteLog } from '@riverlog/sqlite';
 *
 * const log = sqliteLog({ path: 'data/retail.db' });
 * const [position] = await log.append([event]); // { partition: '2', offset: '0' }
 * for await (const batch of log.read({ from: 'earliest', follow: true })) {
 *   for (const record of batch.records) console.log(record.position, record.event);
 * }
 * await log.close();
 */
export function sqliteLog(options: SqliteLogOptions): SqliteLog {
  checkOptions('sqliteLog', options, ['path', 'partitions', 'maxEventBytes', 'synchronous', 'busyTimeoutMs']);
  if (typeof options.path !== 'string' || options.path === '') {
    throw new RiverlogError('INVALID_OPTION', `sqliteLog: path must be a non-empty string, got ${preview(options?.path)}.`);
  }
  const requested = options.partitions;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > MAX_PARTITIONS)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `sqliteLog: partitions must be a whole number in 1..${MAX_PARTITIONS}, got ${preview(requested)}.`,
    );
  }
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  if (!Number.isInteger(maxEventBytes) || maxEventBytes < 1) {
    throw new RiverlogError('INVALID_OPTION', `sqliteLog: maxEventBytes must be a whole number ≥ 1, got ${preview(maxEventBytes)}.`);
  }
  const synchronous = options.synchronous ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new RiverlogError('INVALID_OPTION', `sqliteLog: synchronous must be 'full' or 'normal', got ${preview(synchronous)}.`);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? LOCK_PATIENCE_MS;
  if (!(Number.isFinite(busyTimeoutMs) && busyTimeoutMs >= 0)) {
    throw new RiverlogError('INVALID_OPTION', `sqliteLog: busyTimeoutMs must be a number ≥ 0, got ${preview(busyTimeoutMs)}.`);
  }
  const inMemory = options.path === ':memory:';
  const path = inMemory ? options.path : resolve(options.path);
  const { db, partitions: partitionCount } = openLogFile({ path, partitions: requested, synchronous });
  return new SqliteEventLog(db, path, partitionCount, maxEventBytes, inMemory, busyTimeoutMs);
}

/** Where a read stands in one partition. */
interface Cursor {
  readonly partition: number;
  readonly id: string;
  /** The next offset to read. */
  next: number;
  /** A caught-up batch was yielded at `next`: yield the next one only after moving on. */
  reported: boolean;
  /** Nothing more to yield (an `after` of PARTITION_END). */
  done: boolean;
}

class SqliteEventLog implements SqliteLog {
  readonly uri: string;
  private readonly partitionIds: string[];
  private readonly changed = new EventTarget();
  private readonly watcher: ChangeWatcher | undefined;
  /** Counts wake-ups, so a read that awaited between its last query and its wait does not miss one. */
  private changes = 0;
  private readonly wake = () => {
    this.changes++;
    this.changed.dispatchEvent(new Event('append'));
  };
  private closed = false;
  private lastDataVersion = -1;

  private readonly tables: PartitionTables;
  private readonly writer: LogWriter;
  private readonly pages: PageReader;
  private readonly dataVersion: Database.Statement;

  constructor(
    readonly database: Database.Database,
    readonly path: string,
    readonly partitionCount: number,
    readonly maxEventBytes: number,
    inMemory: boolean,
    private readonly busyTimeoutMs: number,
  ) {
    const db = database;
    this.uri = `sqlite:${path}`;
    this.partitionIds = Array.from({ length: partitionCount }, (_, i) => String(i));
    this.tables = new PartitionTables(db);
    this.writer = new LogWriter(db, this.tables, this.partitionIds);
    this.pages = new PageReader(db);
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    if (!inMemory) {
      this.watcher = new ChangeWatcher(
        path,
        () => {
          const version = this.dataVersion.get() as number;
          const changed = version !== this.lastDataVersion;
          this.lastDataVersion = version;
          return changed;
        },
        this.wake,
      );
      const followers = openLogs.get(path) ?? new Set();
      followers.add(this.wake);
      openLogs.set(path, followers);
    }
  }

  async append(events: readonly Envelope[]): Promise<Position[]> {
    this.ensureOpen();
    const count = events.length;
    const texts = new Array<string>(count);
    const partitions = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      const event = events[i] as Envelope;
      const invalid = invalidEnvelope(event, i);
      if (invalid) throw invalid;
      const text = envelopeText(event);
      assertEnvelopeFits(event, text, this.maxEventBytes);
      texts[i] = text;
      partitions[i] = partitionForSubject(event.subject, this.partitionCount);
    }
    if (count === 0) return [];
    let positions: Position[];
    try {
      // Another process's write lock is waited for asynchronously (a few ms of blocking per attempt at most).
      positions = await whileBusy(
        () => {
          this.ensureOpen();
          return this.writer.write(events, texts, partitions);
        },
        { patienceMs: this.busyTimeoutMs },
      );
    } catch (error) {
      if (error instanceof ClosedError) throw error;
      throw this.writeFailure(error, count);
    }
    for (const wake of openLogs.get(this.path) ?? [this.wake]) wake();
    return positions;
  }

  read(options: ReadOptions = {}): AsyncIterable<ReadBatch> {
    this.ensureOpen();
    return this.readBatches(options);
  }

  async partitions(): Promise<PartitionInfo[]> {
    this.ensureOpen();
    return this.partitionIds.map((id) => ({ id, parents: [], closed: false }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.stop();
    const followers = openLogs.get(this.path);
    followers?.delete(this.wake);
    if (followers?.size === 0) openLogs.delete(this.path);
    this.wake();
    this.database.close();
  }

  private async *readBatches(options: ReadOptions): AsyncGenerator<ReadBatch> {
    const { signal, follow = false } = options;
    const { partitions, batchSize } = checkReadOptions(options, {
      name: `SQLite log ${this.path}`,
      partitions: this.partitionIds,
      defaultBatchSize: DEFAULT_BATCH_SIZE,
    });
    const types = options.types ? JSON.stringify(options.types) : undefined;
    if (follow) this.watcher?.acquire();
    try {
      if (this.closed) return;
      // Checked ids are exactly this log's, '0' … String(partitionCount - 1).
      const cursors: Cursor[] = [];
      for (const id of partitions) {
        const partition = Number(id);
        const start = resolveStart(options.from, id);
        const next = await this.retryRead(() => this.startOffset(partition, start), partition, 0, signal);
        cursors.push({ partition, id, next, reported: false, done: false });
      }
      for (;;) {
        let progressed = false;
        const changesBefore = this.changes;
        // One batch per partition in turn, so a busy partition cannot starve the others.
        for (const cursor of cursors) {
          if (cursor.done || (cursor.reported && !follow)) continue;
          if (this.closed || signal?.aborted) return;
          const batch = await this.nextBatch(cursor, batchSize, types, signal);
          if (batch === undefined) continue;
          progressed = true;
          yield batch;
        }
        if (this.closed || signal?.aborted) return;
        if (cursors.every((cursor) => cursor.done || (cursor.reported && !follow))) return;
        if (!progressed && this.changes === changesBefore) await waitForChange(this.changed, 'append', signal);
      }
    } finally {
      if (follow) this.watcher?.release();
    }
  }

  /**
   * The next batch of a partition, or undefined when it has nothing new since
   * its last caught-up batch. A page shorter than `batchSize` reached the end;
   * a full one asks where the end is now, for the lag. Pages whose records a
   * type filter all left out are skipped, for up to ~10 ms (then an empty
   * batch lets the caller's event loop run).
   */
  private async nextBatch(
    cursor: Cursor,
    batchSize: number,
    types: string | undefined,
    signal?: AbortSignal,
  ): Promise<ReadBatch | undefined> {
    const { partition, id } = cursor;
    if (cursor.next < 0) {
      cursor.done = true;
      return { partition: id, records: [], caughtUp: true, ended: true, lag: { records: 0 } };
    }
    const table = this.tables.of(partition);
    const started = performance.now();
    for (;;) {
      const from = cursor.next;
      const { rows, records, head } = await this.retryRead(
        () => {
          const page = (types === undefined ? table.page.all(from, batchSize) : table.typedPage.all(types, from, batchSize)) as PageRow[];
          if (page.length === 0) return { rows: page, records: [], head: undefined };
          // A short page reached the end; after a full one, the end tells the lag.
          const end = page.length < batchSize ? undefined : this.headOf(partition);
          return { rows: page, records: this.pages.records(page, partition, id, table), head: end };
        },
        partition,
        from,
        signal,
      );
      if (rows.length === 0) {
        if (cursor.reported) return undefined;
        cursor.reported = true;
        return { partition: id, records: [], caughtUp: true, ended: false, lag: { records: 0 } };
      }
      cursor.next = (rows[rows.length - 1] as PageRow)[0] + 1;
      const behind = head === undefined ? 0 : Math.max(0, head + 1 - cursor.next);
      cursor.reported = behind === 0;
      if (records.length > 0 || cursor.reported || performance.now() - started >= FILTERED_SCAN_MS) {
        return { partition: id, records, caughtUp: cursor.reported, ended: false, lag: { records: behind } };
      }
    }
  }

  /** Runs a read statement, waiting asynchronously while the file is locked (rare in WAL mode: recovery, a checkpoint restart). */
  private retryRead<T>(read: () => T, partition: number, offset: number, signal?: AbortSignal): Promise<T> {
    return whileBusy(read, { patienceMs: this.busyTimeoutMs, ...(signal ? { signal } : {}) }).catch((error: unknown) => {
      throw this.readFailure(error, partition, offset);
    });
  }

  /** The first offset a read of `partition` returns; -1 for a partition read to its end (`after` of PARTITION_END). */
  private startOffset(partition: number, start: PartitionStart): number {
    switch (start.kind) {
      case 'earliest':
        return 0;
      case 'latest':
        return this.headOf(partition) + 1;
      case 'end':
        return -1;
      // Offsets are checked decimal strings; one past what a partition can hold reads nothing.
      case 'after':
        return Math.min(Number(start.offset), PARTITION_SPAN) + 1;
      case 'at':
        return Math.min(Number(start.offset), PARTITION_SPAN);
      case 'time': {
        // appended_at never decreases within a partition: binary search on the primary key.
        let low = 0;
        let high = this.headOf(partition) + 1;
        while (low < high) {
          const mid = Math.floor((low + high) / 2);
          // An event without a mark (written by another program) counts as older than any time.
          if ((this.pages.timeAt(partition, mid) ?? 0) < start.time) low = mid + 1;
          else high = mid;
        }
        return low;
      }
    }
  }

  /** The last offset of a partition, -1 when it is empty. */
  private headOf(partition: number): number {
    const last = this.tables.of(partition).last.get() as number | undefined;
    return last === undefined ? -1 : last;
  }

  private ensureOpen(): void {
    if (this.closed || !this.database.open) throw new ClosedError(`SQLite log ${this.path}`);
  }

  private writeFailure(error: unknown, count: number): Error {
    if (isBusy(error)) {
      return new RiverlogError(
        'LOG_BUSY',
        `${this.path} stayed locked by another writer for ${this.busyTimeoutMs} ms; none of the ${count} events was written. Retry the append.`,
        { cause: error },
      );
    }
    if (isFormatFailure(error)) return new LogFormatError(this.path, explain(error), { cause: error });
    return new RiverlogError(
      'LOG_WRITE_FAILED',
      `Appending ${count} events to ${this.path} failed (${describeSqliteError(error)}); none of them was written.`,
      { cause: error },
    );
  }

  private readFailure(error: unknown, partition: number, offset: number): Error {
    if (error instanceof RiverlogError) return error;
    const where = `reading partition ${partition} from offset ${offset}`;
    if (isFormatFailure(error)) return new LogFormatError(this.path, `${explain(error)} (${where})`, { cause: error });
    if (this.closed || !this.database.open) return new ClosedError(`SQLite log ${this.path}`);
    return new RiverlogError('LOG_READ_FAILED', `${this.path}: ${where} failed (${describeSqliteError(error)}).`, { cause: error });
  }
}
