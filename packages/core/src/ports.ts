import type { Envelope } from './envelope.js';
import type { Position, PositionMap } from './position.js';

// ─── The log ──────────────────────────────────────────────────────────────

/**
 * One record as a log returns it: where it sits and the envelope as stored,
 * parsed but not yet validated (decode it with `catalog.decode`). When the
 * stored bytes are not an envelope at all (a foreign writer, invalid UTF-8,
 * not JSON), `event` is `undefined`, `raw` holds the bytes as text and
 * `error` says why.
 */
export interface LogRecord {
  readonly position: Position;
  readonly event: unknown;
  readonly raw?: string;
  readonly error?: string;
  /** When the backend stored the record (epoch ms), where it keeps one: used when the event has no `time`. */
  readonly storedAt?: number;
}

/**
 * A partition and where it comes from. Kinesis shards split and merge: a
 * child's records follow its parents' records, so a reader finishes every
 * parent before it starts a child. Logs with a fixed set of partitions
 * (SQLite, Kafka) list them with no parents, all open.
 */
export interface PartitionInfo {
  readonly id: string;
  /** The partitions this one continues (one after a split, two after a merge). */
  readonly parents: readonly string[];
  /** No record will be appended to it any more: a read of it ends with `ended`. */
  readonly closed: boolean;
}

/**
 * The checkpoint offset that marks a partition read to its end (a closed
 * partition whose last batch came with `ended`). Its children may start once
 * every parent holds it. Compares above every offset.
 */
export const PARTITION_END = 'end';

/**
 * How far behind the end of a partition a reader is, in the unit the
 * backend has: records where offsets are dense (SQLite, Kafka, memory),
 * milliseconds behind the newest record otherwise (Kinesis).
 */
export type Lag = { readonly records: number } | { readonly ms: number };

/**
 * What a read yields: records of one partition in offset order (possibly
 * none), and where the reader stands after them.
 */
export interface ReadBatch {
  readonly partition: string;
  readonly records: readonly LogRecord[];
  /**
   * After these records the reader had reached the end of what the partition
   * held when they were fetched. A read yields at least one caught-up batch
   * per partition each time it reaches the end (the batch may be empty).
   */
  readonly caughtUp: boolean;
  /**
   * The partition is closed and these are its last records: the read yields
   * nothing more for it. Implies `caughtUp`.
   */
  readonly ended: boolean;
  /** How far behind the end the reader is after this batch. */
  readonly lag: Lag;
}

/** Where a read starts. `after` resumes from a checkpoint; `at` includes the given offsets. */
export type ReadFrom =
  | 'earliest'
  | 'latest'
  | { readonly after: PositionMap }
  | { readonly at: PositionMap }
  | { readonly time: Date | string | number };

export interface ReadOptions {
  /**
   * Default `'earliest'`. Partitions missing from an `after`/`at` map start
   * at the earliest record; a partition whose `after` offset is
   * {@link PARTITION_END} yields one empty `ended` batch.
   */
  readonly from?: ReadFrom;
  /** Read only these partitions (default: every partition listed when the read starts, in no lineage order). */
  readonly partitions?: readonly string[];
  /** Yield only records of these types. Filtering may happen in the backend (caught-up batches are still yielded). */
  readonly types?: readonly string[];
  /**
   * Keep waiting for new records at the end instead of finishing
   * (tail-follow). Without it the read ends once every partition has yielded
   * its caught-up (or ended) batch. Default false.
   */
  readonly follow?: boolean;
  /** Largest number of records in a batch. Default chosen by the backend (about 1,000). */
  readonly batchSize?: number;
  /** Ends the read (also a following one) cleanly. */
  readonly signal?: AbortSignal;
}

/**
 * The central stream: an append-only, partitioned log of envelopes.
 * Per-subject order is kept: one subject always maps to one partition at a time.
 *
 * A backend reads only the partitions it is given; finishing parents before
 * children and picking up partitions that appear later is done once for all
 * backends by the readers in core (`lineage` helpers), the consumer and the
 * view builder.
 *
 * @example
 * const [position] = await log.append([event]);
 * for await (const batch of log.read({ from: 'earliest' })) {
 *   for (const record of batch.records) console.log(record.position, record.event);
 * }
 */
export interface EventLog {
  /** Where the log lives, for messages, e.g. `sqlite:/data/retail.db`. */
  readonly uri: string;
  /** The largest serialized envelope (bytes, UTF-8 JSON) this log accepts. */
  readonly maxEventBytes: number;
  /**
   * Appends a batch, in order, and resolves with each event's position once
   * durable. An event whose id is already in the log (within the backend's
   * documented window) is not stored again: its existing position is
   * returned. An oversize or invalid event rejects the whole call before
   * anything is written. On any other rejection no event of the call counts
   * as acknowledged, and (per subject) no later event is accepted before it.
   */
  append(events: readonly Envelope[]): Promise<Position[]>;
  /** Reads batches. Batches of different partitions may interleave; see {@link ReadBatch}. */
  read(options?: ReadOptions): AsyncIterable<ReadBatch>;
  /** Every partition the log has now (closed ones still holding records included), with lineage. */
  partitions(): Promise<PartitionInfo[]>;
  /** Releases resources; later calls reject with `ClosedError`. Idempotent. */
  close(): Promise<void>;
}

// ─── Backend-managed groups (Kafka) ───────────────────────────────────────

/** What a backend-managed group subscription hands each batch. */
export interface GroupBatchControl {
  readonly partition: string;
  /** Tells the backend this member is alive during long batches. */
  heartbeat(): Promise<void>;
  /** False once the partition was revoked or the subscription is stopping: finish the record in hand and return. */
  isActive(): boolean;
}

/**
 * What `onBatch` resolves with when it stopped before the end of its batch
 * (the partition was revoked, the subscription is stopping, or the member
 * holds the partition still): how far it got. The records after
 * `lastFinished` are delivered again (after a pause when none was finished).
 */
export interface GroupBatchStop {
  /** The offset of the last record of the batch that was finished; `undefined`: none. */
  readonly lastFinished: string | undefined;
}

/**
 * @example
 * const subscription = await log.subscribe({
 *   group: 'emailer',
 *   onBatch: async (batch, control) => {
 *     for (const record of batch.records) {
 *       if (!control.isActive()) return { lastFinished: previous };
 *       await handle(record);
 *     }
 *   },
 * });
 */
export interface GroupSubscribeOptions {
  readonly group: string;
  /** Where partitions with no checkpoint begin. Default `'earliest'`. */
  readonly from?: 'earliest' | 'latest';
  readonly types?: readonly string[];
  /**
   * Where the group's one checkpoint lives. Absent: in the backend (Kafka
   * group offsets), committed after each batch, up to what `onBatch`
   * finished; a failed commit is reported to `onError` and the batch is
   * delivered again. Given: in that store only (e.g. a view's own table),
   * written by the caller and loaded for each newly assigned partition; the
   * backend's group offsets are then never committed nor read.
   */
  readonly checkpoints?: {
    load(partition: string): Promise<string | undefined>;
  };
  /**
   * Called with batches of one partition, in order; the next batch of that
   * partition waits for it. Resolving with nothing means every record of the
   * batch is finished; see {@link GroupBatchStop} for stopping early. A
   * rejection is reported to `onError` and the batch is delivered again
   * after a pause. Batches that reach the end of the partition have
   * `caughtUp` (an empty one is delivered for a partition assigned at its end).
   */
  onBatch(batch: ReadBatch, control: GroupBatchControl): Promise<void | GroupBatchStop>;
  onAssigned?(partitions: readonly string[]): void;
  onRevoked?(partitions: readonly string[]): void;
  /** What the subscription survived and retries (a failed batch, a failed commit, a crash). Default: `console.error`. */
  onError?(error: unknown, partition?: string): void;
}

/**
 * Implemented by logs that share partitions among a group's members
 * themselves (Kafka consumer groups), instead of through a `LeaseStore`.
 */
export interface GroupSubscribable {
  subscribe(options: GroupSubscribeOptions): Promise<{ stop(): Promise<void> }>;
}

/** True when the log manages consumer groups itself. */
export function isGroupSubscribable(log: EventLog): log is EventLog & GroupSubscribable {
  return typeof (log as Partial<GroupSubscribable>).subscribe === 'function';
}

// ─── Leases and fencing ───────────────────────────────────────────────────

/**
 * One lease as the store holds it. `epoch` is the fencing token: it grows on
 * every change of owner, and stores refuse work committed under an older
 * one. `counter` grows on every write (take, renew, release): an observer
 * judges a lease expired when its counter has not moved for the TTL *on the
 * observer's own clock*, so no decision compares two hosts' clocks.
 */
export interface Lease {
  readonly group: string;
  readonly partition: string;
  /** The holder; `undefined` once released. */
  readonly owner: string | undefined;
  readonly epoch: number;
  readonly counter: number;
}

/**
 * Leases that share a group's partitions among processes. Every write is a
 * compare-and-set on the lease as last seen, so two takers never both win.
 * The store keeps no clock: expiry is decided by the caller (see {@link Lease}).
 *
 * @example
 * const seen = (await leases.list('views')).find((l) => l.partition === '0');
 * const mine = await leases.take('views', '0', workerId, seen); // epoch + 1, or undefined if it moved
 * const renewed = mine && (await leases.renew(mine));           // counter + 1, or undefined if lost
 */
export interface LeaseStore {
  /** Every lease of the group, released ones included. */
  list(group: string): Promise<Lease[]>;
  /**
   * Takes the lease for `owner`: when `seen` is undefined, only if there is
   * no lease yet; otherwise only if the stored lease still has `seen`'s
   * epoch and counter. Resolves with the new lease (epoch + 1, counter + 1),
   * or `undefined` when someone else wrote it first.
   */
  take(group: string, partition: string, owner: string, seen: Lease | undefined): Promise<Lease | undefined>;
  /** Counter + 1 if the lease is still `lease.owner`'s at `lease.epoch`; `undefined` when it was lost. */
  renew(lease: Lease): Promise<Lease | undefined>;
  /** Clears the owner (keeping the epoch) if still ours at that epoch; a no-op otherwise. */
  release(lease: Lease): Promise<void>;
  /** Deletes the row if it is still exactly `lease` (same epoch and counter): clean-up of members long gone. */
  remove(lease: Lease): Promise<void>;
  close(): Promise<void>;
}

/**
 * The fencing tokens a write is made under: per partition, the epoch of the
 * writer's lease. A store refuses the write with `LeaseLostError`
 * (`LEASE_LOST`) when it has seen a higher epoch for any of them, and
 * otherwise records these epochs, so a later write under an older lease is
 * refused even if the new owner has not written yet (call the store's save
 * or commit with no changes right after taking a lease: a claim).
 */
export type Fence = Readonly<Record<string, number>>;

/**
 * Where a consumer group keeps how far it got: the offset of the last
 * finished record per partition ({@link PARTITION_END} once a closed
 * partition is done).
 *
 * @example
 * await checkpoints.save('emailer', { '0': '41' }, { '0': lease.epoch });
 * await checkpoints.load('emailer'); // { '0': '41' }
 */
export interface CheckpointStore {
  load(group: string): Promise<PositionMap>;
  /**
   * Stores the given partitions' offsets; other partitions keep theirs. With
   * a fence, refused with `LeaseLostError` (nothing written) when any of its
   * partitions has a higher stored epoch; `positions` may be empty (a claim).
   */
  save(group: string, positions: PositionMap, fence?: Fence): Promise<void>;
  close(): Promise<void>;
}

// ─── Dead letters ─────────────────────────────────────────────────────────

/** A record given up on: what it was, why, and where it sat. */
export interface DeadLetter {
  readonly group: string;
  readonly record: LogRecord;
  /** Stable code of the failure, e.g. `DECODE_FAILED`, `UNKNOWN_EVENT_TYPE`, `HANDLER_FAILED`. */
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  /** ISO 8601 time it was dead-lettered. */
  readonly at: string;
}

/**
 * Receives dead letters. `send` resolves once they are durable: only then
 * does the consumer move past them. Sending a letter again for the same
 * group and position (a retry after a crash or a conflict) keeps one.
 */
export interface DeadLetterSink {
  send(letters: readonly DeadLetter[]): Promise<void>;
}

// ─── Views ────────────────────────────────────────────────────────────────

/** A sort key of a view row in one index: compared component by component. */
export type IndexKey = readonly (string | number)[];

/**
 * A row as the fold reads it. `applied` says, per partition, the last offset
 * folded into this row (an event at or before it is skipped for this row);
 * `version` grows on every write, and a write names the version it read.
 * A deleted row stays as a tombstone (`value` undefined) so its `applied`
 * survives.
 */
export interface StoredRow {
  readonly key: string;
  readonly value: unknown;
  readonly applied: PositionMap;
  readonly version: number;
}

/**
 * Writes a row (or its tombstone, `value: undefined`) if its stored version
 * is still `expectedVersion` (0: the row must not exist).
 */
export interface RowWrite {
  readonly key: string;
  readonly value: unknown;
  readonly applied: PositionMap;
  readonly expectedVersion: number;
  /** The row's keys in the view's indexes (ignored for a tombstone). */
  readonly indexes?: Readonly<Record<string, IndexKey>>;
}

/**
 * One step of a view: guarded row writes, the event ids folded (for the
 * duplicate window), and the checkpoint they reach, under a fence.
 * A store with transactions writes it atomically; one without writes the
 * rows first (each guarded), then the ids, then the checkpoint: a crash in
 * between leaves rows whose `applied` makes the redo skip them.
 */
export interface ViewCommit {
  readonly rows: readonly RowWrite[];
  /** Ids of the events folded, to remember for the view's duplicate window. */
  readonly ids: readonly string[];
  /** The checkpoint after these changes, for the partitions they came from. */
  readonly positions: PositionMap;
  readonly fence?: Fence;
}

/** How to create a table (one version of a view): its indexes are declared up front. */
export interface ViewTableSpec {
  readonly indexes: readonly string[];
  /** Event ids remembered for duplicate detection: the newest `idWindow` per table (0: none). */
  readonly idWindow: number;
}

/** What a store can take in one commit; the view builder cuts commits at event boundaries to fit. */
export interface ViewStoreLimits {
  /** Most row writes in one commit. */
  readonly maxRowsPerCommit: number;
  /** Largest serialized row (UTF-8 JSON of the value) in bytes. */
  readonly maxRowBytes: number;
}

/** Lists rows by key (no index) or by one declared index in key order, a page at a time. */
export interface ViewQuery {
  readonly index?: string;
  readonly prefix?: IndexKey;
  /** Rows per page. Default 100. */
  readonly limit?: number;
  readonly reverse?: boolean;
  /** From a previous page's `cursor`. */
  readonly cursor?: string;
}

export interface ViewRow {
  readonly key: string;
  readonly value: unknown;
}

export interface ViewPage {
  readonly rows: readonly ViewRow[];
  /** Present when more rows follow: pass it as `cursor` for the next page. */
  readonly cursor?: string;
}

/**
 * Storage for read models ("views"): tables of JSON rows by key, declared
 * secondary indexes, each table's checkpoint and recent event ids. A table is
 * one version of a view, e.g. `products@2`; an alias names the table that
 * reads of a view go to, so a rebuilt version swaps in at once. Every read
 * is strongly consistent except `list` by index where documented.
 *
 * @example
 * await store.createTable('products@1', { indexes: ['byCategory'], idWindow: 100_000 });
 * await store.commit('products@1', {
 *   rows: [{ key: 'p1', value: { name: 'Boot' }, applied: { '0': '12' }, expectedVersion: 0, indexes: { byCategory: ['shoes', 'Boot'] } }],
 *   ids: ['01J…'],
 *   positions: { '0': '12' },
 * });
 * await store.get('products@1', 'p1'); // { name: 'Boot' }
 */
export interface ViewStore {
  readonly limits: ViewStoreLimits;
  /** Creates the table if absent (idempotent); a table that exists with other indexes is an `INVALID_VIEW` error. */
  createTable(table: string, spec: ViewTableSpec): Promise<void>;
  /** A row's value (undefined when absent or deleted). */
  get(table: string, key: string): Promise<unknown>;
  /** Stored rows for the fold, tombstones included; absent keys are missing from the map. */
  rows(table: string, keys: readonly string[]): Promise<Map<string, StoredRow>>;
  /** A page of rows; an index that was not declared is an `UNKNOWN_INDEX` error. A table never created lists no rows. */
  list(table: string, query?: ViewQuery): Promise<ViewPage>;
  /** The table's checkpoint (empty before its first commit). */
  positions(table: string): Promise<PositionMap>;
  /** Those of `ids` the table has folded within its window. */
  seen(table: string, ids: readonly string[]): Promise<Set<string>>;
  /**
   * Writes a commit. Refused with `ConflictError` (`CONFLICT`, naming the row)
   * when a row's version moved, and with `LeaseLostError` when the fence is
   * stale; a store without transactions may have written some guarded rows.
   * An event id the table remembers (or one listed twice) is a `CONFLICT`
   * too. Refused before anything is written: a table never created
   * (`UNKNOWN_VIEW_TABLE`), more rows than `limits.maxRowsPerCommit`
   * (`COMMIT_TOO_LARGE`), a row over `limits.maxRowBytes` (`ROW_TOO_LARGE`),
   * an undeclared index (`UNKNOWN_INDEX`).
   */
  commit(table: string, commit: ViewCommit): Promise<void>;
  /** The table an alias points to. */
  alias(name: string): Promise<string | undefined>;
  /** Points an alias at `table` if it still points at `expected` (undefined: unset); false when it moved. */
  setAlias(name: string, table: string, expected: string | undefined): Promise<boolean>;
  /** Removes a table, its rows, ids and checkpoint. */
  drop(table: string): Promise<void>;
  close(): Promise<void>;
}
