import { resolve } from 'node:path';
import {
  assertEnvelopeFits,
  ClosedError,
  checkReadOptions,
  type Envelope,
  type EventLog,
  envelopeText,
  invalidEnvelope,
  LogFormatError,
  type LogRecord,
  type PartitionStart,
  type Position,
  type PositionMap,
  partitionForSubject,
  preview,
  type ReadOptions,
  RiverlogError,
  resolveStart,
  waitForChange,
} from '@riverlog/core';
import type Database from 'better-sqlite3';
import { BUSY_TIMEOUT_MS, describeSqliteError, sqliteCode } from '../connection.js';
import { ChangeWatcher } from './change-watcher.js';
import { explain, MAX_PARTITIONS, openLogFile, PARTITION_SPAN } from './log-file.js';
import { LogWriter } from './log-writer.js';
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
  /** How long an append waits for another process's write to finish (ms). Default 10,000. */
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
const DEFAULT_MAX_BATCH = 1000;

/** Logs open in this process, by file: an append wakes the followers of every one of them at once. */
const openLogs = new Map<string, Set<() => void>>();

/**
 * Opens (or creates) an append-only event log in one SQLite file: a fixed
 * number of partitions, per-partition offsets counting from 0, WAL mode so
 * several processes may append to and read the same file. Opening is
 * synchronous and throws `LogFormatError` / `PartitionCountError` for a file
 * it cannot use, without changing it.
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
 *   for (const record of batch) console.log(record.position, record.event);
 * }
 * await log.close();
 */
export function sqliteLog(options: SqliteLogOptions): SqliteLog {
  if (!options || typeof options.path !== 'string' || options.path === '') {
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
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  const inMemory = options.path === ':memory:';
  const path = inMemory ? options.path : resolve(options.path);
  const { db, partitions: partitionCount } = openLogFile({ path, partitions: requested, synchronous, busyTimeoutMs });
  return new SqliteEventLog(db, path, partitionCount, maxEventBytes, inMemory, busyTimeoutMs);
}

class SqliteEventLog implements SqliteLog {
  readonly uri: string;
  private readonly partitionIds: string[];
  private readonly changed = new EventTarget();
  private readonly watcher: ChangeWatcher | undefined;
  private readonly wake = () => this.changed.dispatchEvent(new Event('append'));
  private closed = false;
  private lastDataVersion = -1;

  private readonly tables: PartitionTables;
  private readonly writer: LogWriter;
  private readonly appendedAtOf: Database.Statement;
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
    // The time of an event is the time of the last mark at or before it in its partition.
    this.appendedAtOf = db
      .prepare('SELECT appended_at FROM riverlog_append_times WHERE position <= ? AND position >= ? ORDER BY position DESC LIMIT 1')
      .pluck();
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
    // UTF-8 needs at most 3 bytes per UTF-16 code unit: only longer texts need counting.
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
      positions = this.writer.write(events, texts, partitions);
    } catch (error) {
      throw this.writeFailure(error, count);
    }
    for (const wake of openLogs.get(this.path) ?? [this.wake]) wake();
    return positions;
  }

  read(options: ReadOptions = {}): AsyncIterable<LogRecord[]> {
    this.ensureOpen();
    return this.readBatches(options);
  }

  async partitions(): Promise<string[]> {
    this.ensureOpen();
    return [...this.partitionIds];
  }

  async heads(): Promise<PositionMap> {
    this.ensureOpen();
    const heads: Record<string, string> = {};
    for (let partition = 0; partition < this.partitionCount; partition++) {
      const head = this.headOf(partition);
      if (head >= 0) heads[String(partition)] = String(head);
    }
    return heads;
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

  private async *readBatches(options: ReadOptions): AsyncGenerator<LogRecord[]> {
    const { signal, follow = false } = options;
    const checked = checkReadOptions(options, {
      name: `SQLite log ${this.path}`,
      partitions: this.partitionIds,
      defaultMaxBatch: DEFAULT_MAX_BATCH,
    });
    const { maxBatch } = checked;
    // Checked ids are exactly this log's, '0' … String(partitionCount - 1).
    const wanted = checked.partitions.map(Number);
    const types = options.types ? JSON.stringify(options.types) : undefined;
    if (follow) this.watcher?.acquire();
    try {
      if (this.closed) return;
      const cursors = wanted.map((partition) => this.startOffset(partition, resolveStart(options.from, String(partition))));
      for (;;) {
        let progressed = false;
        // One batch per partition in turn, so a busy partition cannot starve the others.
        for (let i = 0; i < wanted.length; i++) {
          if (this.closed || signal?.aborted) return;
          const partition = wanted[i] as number;
          const from = cursors[i] as number;
          let rows: [number, string | null][];
          try {
            const table = this.tables.of(partition);
            rows = (types === undefined ? table.page.all(from, maxBatch) : table.typedPage.all(types, from, maxBatch)) as [
              number,
              string | null,
            ][];
          } catch (error) {
            throw this.readFailure(error, partition, cursors[i] as number);
          }
          if (rows.length === 0) continue;
          progressed = true;
          cursors[i] = (rows[rows.length - 1] as [number, string | null])[0] + 1;
          const batch = this.toRecords(rows, partition);
          if (batch.length > 0) yield batch;
        }
        if (this.closed || signal?.aborted) return;
        if (!progressed) {
          if (!follow) return;
          await waitForChange(this.changed, 'append', signal);
        }
      }
    } finally {
      if (follow) this.watcher?.release();
    }
  }

  private toRecords(rows: [number, string | null][], partition: number): LogRecord[] {
    const id = this.partitionIds[partition] as string;
    const batch: LogRecord[] = [];
    for (const [number, text] of rows) {
      if (text === null) continue; // a type the read filters out
      const offset = String(number);
      try {
        batch.push({ position: { partition: id, offset }, event: JSON.parse(text) });
      } catch (error) {
        batch.push({ position: { partition: id, offset }, event: undefined, raw: text, error: `not JSON: ${(error as Error).message}` });
      }
    }
    return batch;
  }

  /** The first offset a read of `partition` returns. */
  private startOffset(partition: number, start: PartitionStart): number {
    switch (start.kind) {
      case 'earliest':
        return 0;
      case 'latest':
        return this.headOf(partition) + 1;
      // Offsets are checked decimal strings; one past what a partition can hold reads nothing.
      case 'after':
        return Math.min(Number(start.offset), PARTITION_SPAN) + 1;
      case 'at':
        return Math.min(Number(start.offset), PARTITION_SPAN);
      case 'time': {
        // appended_at never decreases within a partition: binary search on the primary key.
        const base = partition * PARTITION_SPAN;
        let low = 0;
        let high = this.headOf(partition) + 1;
        while (low < high) {
          const mid = Math.floor((low + high) / 2);
          // An event without a mark (written by another program) counts as older than any time.
          if (((this.appendedAtOf.get(base + mid, base) as number | undefined) ?? 0) < start.time) low = mid + 1;
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
    const code = sqliteCode(error);
    if (code === 'SQLITE_BUSY' || code?.startsWith('SQLITE_BUSY_')) {
      return new RiverlogError(
        'LOG_BUSY',
        `${this.path} stayed locked by another writer for ${this.busyTimeoutMs} ms; none of the ${count} events was written. Retry the append.`,
        { cause: error },
      );
    }
    if (code?.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
      return new LogFormatError(this.path, explain(error), { cause: error });
    return new RiverlogError(
      'LOG_WRITE_FAILED',
      `Appending ${count} events to ${this.path} failed (${describeSqliteError(error)}); none of them was written.`,
      { cause: error },
    );
  }

  private readFailure(error: unknown, partition: number, offset: number): Error {
    const code = sqliteCode(error);
    const where = `reading partition ${partition} from offset ${offset}`;
    if (code?.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
      return new LogFormatError(this.path, `${explain(error)} (${where})`, { cause: error });
    }
    return new RiverlogError('LOG_READ_FAILED', `${this.path}: ${where} failed (${describeSqliteError(error)}).`, { cause: error });
  }
}
