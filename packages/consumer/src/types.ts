import type {
  BackoffOptions,
  Catalog,
  CheckpointStore,
  DeadLetter,
  DeadLetterSink,
  Envelope,
  EventLog,
  EventOf,
  HandlerMap,
  Lag,
  LeaseStore,
  LogRecord,
  Position,
  PositionMap,
} from '@riverlog/core';

/** What a handler learns about the record it handles, besides the event. */
export interface HandlerContext {
  /** The consumer group. */
  readonly group: string;
  /** Where the event sits in the log. */
  readonly position: Position;
  /** 1 on the first try, 2 on the first retry, ... */
  readonly attempt: number;
  /**
   * Aborts when the consumer is stopping or lost this partition's lease.
   * A handler may finish its work anyway; if it gives up (throws), the record
   * is not checkpointed and is delivered again later.
   */
  readonly signal: AbortSignal;
  /** The record as the log returned it, before decoding. */
  readonly record: LogRecord;
}

/**
 * A handler (or `ignore`) for every event type of the catalog, checked
 * exhaustively at compile time. Each handler receives its event already
 * decoded, upcast to the current version and narrowed to its type.
 */
export type ConsumerHandlers<C extends Catalog, Context = HandlerContext> = HandlerMap<EventOf<C>, Context, Promise<void> | void>;

/**
 * Why a partition stopped being worked on by this consumer:
 * `stopped` (stop()), `lease-lost` (its lease was taken or ran out, or the
 * store refused a write under it), `rebalanced` (handed back to another
 * process, or revoked by the log's own group), `ended` (a closed partition
 * read to its end), `unreadable` (an event this catalog cannot read yet, with
 * `onUnreadable: 'stop'`).
 */
export type PartitionStopReason = 'stopped' | 'lease-lost' | 'rebalanced' | 'ended' | 'unreadable';

/**
 * Where something failed: reading the log, writing a checkpoint, claiming a
 * partition, sending a dead letter, the lease rounds, a hook, a handler
 * given up on (Lambda) or an unreadable event that stopped a partition.
 */
export type ErrorStage = 'read' | 'checkpoint' | 'claim' | 'dead-letter' | 'lease' | 'hook' | 'handler' | 'unreadable';

/** A handler failed and is tried again after `delayMs`. */
export interface HandlerRetry<Event extends Envelope = Envelope> {
  readonly stage: 'handler';
  readonly partition: string;
  readonly event: Event;
  readonly position: Position;
  /** The try that failed (1 = the first). */
  readonly attempt: number;
  readonly error: unknown;
  readonly delayMs: number;
}

/** A transient failure of the log or a store, tried again after `delayMs`, for as long as it lasts. */
export interface TransientRetry {
  readonly stage: 'read' | 'checkpoint' | 'claim' | 'dead-letter';
  /** The partition concerned (absent for a checkpoint write of several). */
  readonly partition?: string;
  /** Failures in a row so far. */
  readonly attempt: number;
  readonly error: unknown;
  readonly delayMs: number;
}

export type RetryInfo<Event extends Envelope = Envelope> = HandlerRetry<Event> | TransientRetry;

/**
 * Observability callbacks. They run inline: keep them fast. A hook that
 * throws is reported to `onError` and otherwise ignored.
 */
export interface ConsumerHooks<Event extends Envelope = Envelope> {
  /** A handler finished an event. */
  onHandled?(info: { readonly event: Event; readonly position: Position; readonly attempts: number; readonly durationMs: number }): void;
  /**
   * Something failed and is tried again after `delayMs`: a handler (`stage:
   * 'handler'`, up to `retry.attempts` tries), or the log or a store (read,
   * checkpoint, claim, dead letter), for as long as it fails. `status()`
   * lists the retries under way.
   */
  onRetry?(info: RetryInfo<Event>): void;
  /** A record was given up on and is now durable in the dead-letter sink. */
  onDeadLetter?(letter: DeadLetter): void;
  /** A record was skipped: its type is `ignore`d, or unknown with `unknownTypes: 'ignore'`. */
  onIgnored?(info: { readonly record: LogRecord; readonly type: string }): void;
  /** Checkpoints were written. */
  onCheckpoint?(info: { readonly positions: PositionMap }): void;
  /** This consumer began working on a partition (`after`: the checkpoint it resumes after; `epoch`: its lease's, 0 without leases). */
  onPartitionStart?(info: { readonly partition: string; readonly after: string | undefined; readonly epoch: number }): void;
  /** This consumer stopped working on a partition; `error` says why for `unreadable` and `lease-lost`. */
  onPartitionStop?(info: { readonly partition: string; readonly reason: PartitionStopReason; readonly error?: unknown }): void;
  /**
   * Something failed that no wait mends here: a partition stopped on an
   * unreadable event (`unreadable`) or a refused write (`checkpoint`/`claim`
   * with `LEASE_LOST`), a lease round failed (`lease`, tried again next
   * round), a hook threw (`hook`), a Lambda record was given up on (`handler`).
   */
  onError?(error: unknown, info: { readonly stage: ErrorStage; readonly partition?: string }): void;
}

/** Sharing a group's partitions among processes through fenced leases (see `LeaseStore`). */
export interface LeaseOptions {
  readonly store: LeaseStore;
  /** How long a lease lasts without renewal, judged on this process's clock. Default 10 s; renewed every third of it. */
  readonly ttlMs?: number;
  /** This process's name in the lease table. Default `<hostname>/<pid>/<random>`. */
  readonly owner?: string;
  /** This process's clock (epoch ms), for tests of clock skew. Default `Date.now`. */
  readonly now?: () => number;
}

/** How often finished work is written to the checkpoint store. */
export interface CheckpointPolicy {
  /** Write after this many finished records. Default 5,000: each write is a durable transaction, and a crash costs at most this many redeliveries (or one second's worth). */
  readonly records?: number;
  /** Write at least this often while there is something to write. Default 1000 ms. */
  readonly ms?: number;
}

/**
 * How a failing handler is tried again: `attempts` tries in all (default 5;
 * 1 means no retry), waiting by core's one backoff policy between them
 * (`initialMs` default 50, `maxMs` default 10,000, `factor` default 2, with
 * jitter). After the last try the record goes to the dead letter.
 *
 * @example
 * const retry: HandlerRetryOptions = { attempts: 5, initialMs: 200, maxMs: 10_000 };
 */
export interface HandlerRetryOptions extends BackoffOptions {
  readonly attempts?: number;
}

export interface ConsumerOptions<C extends Catalog> {
  readonly log: EventLog;
  readonly catalog: C;
  /** The consumer group: the name its checkpoints and leases are kept under. */
  readonly group: string;
  /**
   * Where the group's checkpoints live. Required, except on a log that runs
   * consumer groups itself (Kafka) without `leases`: there, absent means the
   * log's own group offsets, and a store given is the one checkpoint (the
   * group offsets are then never committed nor read).
   */
  readonly checkpoints?: CheckpointStore;
  readonly handlers: ConsumerHandlers<C>;
  /** Where records given up on go: poison records, handlers that keep failing, unreadable events. */
  readonly deadLetters: DeadLetterSink;
  /** Tries of a failing handler before its record goes to the dead letter. */
  readonly retry?: HandlerRetryOptions;
  /** What to do with valid envelopes of types the catalog does not define. Default `'dead-letter'`. */
  readonly unknownTypes?: 'dead-letter' | 'ignore';
  /**
   * An event this catalog cannot read yet: of a newer version than it knows,
   * or failing its schema. `'stop'` (default): its partition stops there,
   * visibly (`status()`, `onError`, `onPartitionStop`), and the record goes to
   * the dead letter; a restart with a catalog that reads it resumes there.
   * `'dead-letter'`: dead-letter it and go on.
   */
  readonly onUnreadable?: 'stop' | 'dead-letter';
  /**
   * Share partitions with other processes of the group through fenced
   * leases. Without it, this consumer works on every partition, except on a
   * log that runs consumer groups itself (Kafka, see `isGroupSubscribable`):
   * there it joins the log's group and works on the partitions the log
   * assigns it.
   */
  readonly leases?: LeaseOptions;
  readonly checkpointEvery?: CheckpointPolicy;
  /**
   * Where a partition without a checkpoint starts. Default `'earliest'`.
   * With `'latest'`, a partition listed when the consumer starts begins at
   * its end then (found by reading it once, and saved as its checkpoint);
   * partitions that appear later begin at their first record.
   */
  readonly from?: 'earliest' | 'latest';
  /** Most records per read batch. Default: the log's. */
  readonly batchSize?: number;
  readonly hooks?: ConsumerHooks<EventOf<C>>;
  /** Stops the consumer like `stop()` when it aborts. */
  readonly signal?: AbortSignal;
}

/** Where one partition stands, as `status()` reports it. */
export interface PartitionStatus {
  readonly partition: string;
  /** `starting`: claiming and loading its checkpoint; `running`; `stopped`: held but not worked on (see `stopped`). */
  readonly state: 'starting' | 'running' | 'stopped';
  /** The lease epoch it is worked under (0 without leases; absent in a log-run group). */
  readonly epoch?: number;
  /** The offset of the last finished record (or the checkpoint it resumed after). */
  readonly finished: string | undefined;
  /** How far behind the end of the partition this consumer is, in the log's unit; unknown before the first batch. */
  readonly lag: Lag | undefined;
  /** Its last batch reached the end of the partition and every record of it is finished. */
  readonly caughtUp: boolean;
  /** Why it stopped, when `state` is `stopped`. */
  readonly stopped?: { readonly reason: PartitionStopReason; readonly error?: unknown; readonly at: string };
}

/** A failure being retried now. */
export interface RetryStatus {
  readonly stage: RetryInfo['stage'];
  readonly partition?: string;
  readonly attempt: number;
  readonly error: unknown;
  /** ISO 8601 time of the first failure in this row. */
  readonly since: string;
}

/** A snapshot of a consumer: what `status()` returns. */
export interface ConsumerStatus {
  readonly group: string;
  readonly state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped';
  /** How partitions are shared: fenced `leases`, `local` (this process works on every partition), or the log's own `group` (Kafka). */
  readonly assignment: 'leases' | 'local' | 'group';
  /** The partitions this consumer works on (or holds, stopped), in name order. */
  readonly partitions: readonly PartitionStatus[];
  /** Failures being retried now. */
  readonly retries: readonly RetryStatus[];
}

/** How long `caughtUp()` may wait: the same options on the consumer and the view runner. */
export interface CaughtUpOptions {
  /** Gives up with `CAUGHT_UP_TIMEOUT` after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Gives up with `CAUGHT_UP_TIMEOUT` when it aborts (the worker goes on). */
  readonly signal?: AbortSignal;
}

/**
 * A running subscription of a consumer group to a log.
 *
 * @example
 * await consumer.start();
 * await consumer.caughtUp(); // everything the log held now is handled
 * console.log(consumer.status().partitions);
 * await consumer.stop();
 */
export interface Consumer {
  readonly group: string;
  /** Resolves once the consumer is reading (with leases: after its first round of taking partitions). */
  start(): Promise<void>;
  /**
   * Stops reading, lets every in-flight handler finish (retry waits are cut
   * short), writes the checkpoints and releases the leases. Idempotent.
   * Rejects if the last checkpoint write failed (those records come again).
   */
  stop(): Promise<void>;
  /**
   * Resolves once every record the log held when it was called, in the
   * partitions this consumer works on (children of partitions that end
   * meanwhile included), is finished (handled, ignored or dead-lettered) and
   * checkpointed, with the positions reached: per partition waited for, the
   * last finished offset (`PARTITION_END` for one read to its end). Rejects
   * with `CAUGHT_UP_TIMEOUT` after `timeoutMs` or when `signal` aborts
   * (naming the partitions still behind), `STOPPED` when the consumer stops
   * first, and with the partition's error when a partition it waits for
   * stopped on an unreadable event.
   *
   * @example
   * const positions = await consumer.caughtUp({ timeoutMs: 10_000 }); // { '0': '41', '1': 'end' }
   */
  caughtUp(options?: CaughtUpOptions): Promise<PositionMap>;
  /** Per partition worked on: how far behind its end this consumer is, in the log's unit (records, or ms on Kinesis). */
  lag(): Record<string, Lag>;
  /** A snapshot: partitions, positions, lag, retries under way, stopped partitions and why. */
  status(): ConsumerStatus;
  /** The partitions this consumer works on right now, in name order. */
  assigned(): string[];
}
