import type { Envelope } from './envelope.js';
import type { Position, PositionMap } from './position.js';

/**
 * One record as a log returns it: where it sits and the envelope as stored,
 * parsed but not yet validated (decode it with `catalog.decode`). When the
 * stored bytes are not an envelope at all (a foreign writer), `event` is
 * `undefined`, `raw` holds the bytes as text and `error` says why.
 */
export interface LogRecord {
  readonly position: Position;
  readonly event: unknown;
  readonly raw?: string;
  readonly error?: string;
}

/** Where a read starts. `after` resumes from a checkpoint; `at` includes the given offsets. */
export type ReadFrom =
  | 'earliest'
  | 'latest'
  | { readonly after: PositionMap }
  | { readonly at: PositionMap }
  | { readonly time: Date | string | number };

export interface ReadOptions {
  /** Default `'earliest'`. Partitions missing from an `after`/`at` map start at the earliest record. */
  readonly from?: ReadFrom;
  /** Read only these partitions (default: all). */
  readonly partitions?: readonly string[];
  /** Yield only records of these types. Filtering may happen in the backend. */
  readonly types?: readonly string[];
  /** Keep waiting for new records at the end instead of finishing (tail-follow). Default false. */
  readonly follow?: boolean;
  /** Largest batch to yield. Default chosen by the backend (about 1,000). */
  readonly maxBatch?: number;
  /** Ends the read (also a following one) cleanly. */
  readonly signal?: AbortSignal;
}

/**
 * The central stream: an append-only, partitioned log of envelopes.
 * Per-subject order is kept: one subject always maps to one partition.
 *
 * @example
 * const [position] = await log.append([event]);
 * for await (const batch of log.read({ from: 'earliest' })) {
 *   for (const record of batch) console.log(record.position, record.event);
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
   * returned. An oversize event rejects the whole call with
   * `EventTooLargeError` before anything is written. On any other rejection
   * no event of the call counts as acknowledged.
   */
  append(events: readonly Envelope[]): Promise<Position[]>;
  /**
   * Reads batches of records. Every batch holds records of one partition in
   * offset order; batches of different partitions may interleave.
   */
  read(options?: ReadOptions): AsyncIterable<LogRecord[]>;
  /** The partition ids, e.g. `['0', '1', '2']`. */
  partitions(): Promise<string[]>;
  /** The last offset of each partition that holds records. */
  heads(): Promise<PositionMap>;
  /** Releases resources; later calls reject with `ClosedError`. Idempotent. */
  close(): Promise<void>;
}

/** What a backend-managed group subscription hands each batch. */
export interface GroupBatchControl {
  readonly partition: string;
  /** Commits the group's offset in the backend (Kafka group offsets): the last finished offset. */
  commit(offset: string): Promise<void>;
  /** Tells the backend this member is alive during long batches. */
  heartbeat(): Promise<void>;
  /** False once the partition was revoked or the subscription is stopping: finish the record in hand and return. */
  isActive(): boolean;
}

export interface GroupSubscribeOptions {
  readonly group: string;
  /** Where partitions with no start position begin. Default `'earliest'`. */
  readonly from?: 'earliest' | 'latest';
  readonly types?: readonly string[];
  /**
   * The offset to resume after for a newly assigned partition, when the
   * checkpoint lives outside the backend (e.g. committed with a view).
   * Return undefined to use the backend's own group offset, else `from`.
   */
  startAfter?(partition: string): Promise<string | undefined>;
  /** Called with batches of one partition, in order; the next batch of that partition waits for it. */
  onBatch(batch: LogRecord[], control: GroupBatchControl): Promise<void>;
  onAssigned?(partitions: readonly string[]): void;
  onRevoked?(partitions: readonly string[]): void;
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

/**
 * Where a consumer group keeps how far it got: the offset of the last
 * finished record per partition.
 *
 * @example
 * await checkpoints.save('emailer', { '0': '41' });
 * await checkpoints.load('emailer'); // { '0': '41' }
 */
export interface CheckpointStore {
  load(group: string): Promise<PositionMap>;
  /** Stores the given partitions' offsets; other partitions keep theirs. */
  save(group: string, positions: PositionMap): Promise<void>;
  close(): Promise<void>;
}

/** Who holds a partition of a group, until when (epoch milliseconds). */
export interface Lease {
  readonly group: string;
  readonly partition: string;
  readonly owner: string;
  readonly expiresAt: number;
}

/**
 * Leases that share a group's partitions among processes: one owner per
 * partition, kept alive by renewing before `ttlMs` passes, taken over once expired.
 *
 * @example
 * if (await leases.acquire('views', '0', workerId, 10_000)) { ... }
 */
export interface LeaseStore {
  /** Takes the lease if free, expired or already ours. True when we hold it now. */
  acquire(group: string, partition: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends our lease. False when it is no longer ours. */
  renew(group: string, partition: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives up our lease; a no-op if it is not ours. */
  release(group: string, partition: string, owner: string): Promise<void>;
  list(group: string): Promise<Lease[]>;
  close(): Promise<void>;
}

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
 * does the consumer move past them.
 */
export interface DeadLetterSink {
  send(letters: readonly DeadLetter[]): Promise<void>;
}

/** A sort key of a view row in one index: compared component by component. */
export type IndexKey = readonly (string | number)[];

/** Puts a row (JSON value) under `key`, with its keys in the view's indexes. */
export interface ViewPut {
  readonly key: string;
  readonly value: unknown;
  readonly indexes?: Readonly<Record<string, IndexKey>>;
}

/** Removes the row under `key`. */
export interface ViewDelete {
  readonly key: string;
  readonly delete: true;
}

export type ViewChange = ViewPut | ViewDelete;

/** Lists rows of one index in key order, optionally only those under a prefix. */
export interface ViewQuery {
  readonly index: string;
  readonly prefix?: IndexKey;
  readonly limit?: number;
  readonly reverse?: boolean;
}

export interface ViewRow {
  readonly key: string;
  readonly value: unknown;
}

/** One atomic step of a view: its changes and the checkpoint they reach. */
export interface ViewCommit {
  readonly changes: readonly ViewChange[];
  /** The checkpoint after these changes, for the partitions they came from. */
  readonly positions: PositionMap;
  /**
   * The checkpoint of those same partitions as the writer last read it. If
   * the stored one differs (someone else moved it), nothing is written and
   * `ConflictError` is thrown: this is what makes redelivery harmless.
   */
  readonly expected: PositionMap;
}

/**
 * Storage for read models ("views"): tables of JSON rows by key, secondary
 * indexes, and each table's checkpoint, committed together.
 * A table is one version of a view, e.g. `products@2`; an alias names the
 * table that reads of a view go to, so a rebuilt version swaps in at once.
 *
 * @example
 * await store.commit('products@1', {
 *   changes: [{ key: 'p1', value: { name: 'Boot' }, indexes: { byCategory: ['shoes', 'Boot'] } }],
 *   positions: { '0': '12' },
 *   expected: { '0': '11' },
 * });
 * await store.get('products@1', 'p1'); // { name: 'Boot' }
 */
export interface ViewStore {
  get(table: string, key: string): Promise<unknown>;
  getMany(table: string, keys: readonly string[]): Promise<Map<string, unknown>>;
  query(table: string, query: ViewQuery): Promise<ViewRow[]>;
  /** The table's checkpoint (empty before its first commit). */
  positions(table: string): Promise<PositionMap>;
  commit(table: string, commit: ViewCommit): Promise<void>;
  /** The table an alias points to. */
  alias(name: string): Promise<string | undefined>;
  /** Points an alias at a table, atomically. */
  setAlias(name: string, table: string): Promise<void>;
  /** Removes a table, its rows and its checkpoint. */
  drop(table: string): Promise<void>;
  close(): Promise<void>;
}
