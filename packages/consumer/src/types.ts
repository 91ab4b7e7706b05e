import type {
  Catalog,
  CheckpointStore,
  DeadLetter,
  DeadLetterSink,
  Envelope,
  EventLog,
  EventOf,
  HandlerMap,
  LeaseStore,
  LogRecord,
  Position,
  PositionMap,
} from '@riverlog/core';
import type { RetryPolicy } from './retry.js';

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

/** Why a partition stopped being worked on by this consumer. */
export type PartitionStopReason = 'stopped' | 'lease-lost' | 'rebalanced';

/** Where an error happened: `handler` is a Lambda adapter's record given up on (reported to Lambda for redelivery). */
export type ErrorStage = 'read' | 'checkpoint' | 'dead-letter' | 'lease' | 'hook' | 'handler';

/**
 * Observability callbacks. They run inline: keep them fast. A hook that
 * throws is reported to `onError` and otherwise ignored.
 */
export interface ConsumerHooks<Event extends Envelope = Envelope> {
  /** A handler finished an event. */
  onHandled?(info: { readonly event: Event; readonly position: Position; readonly attempts: number; readonly durationMs: number }): void;
  /** A handler failed and will be tried again after `delayMs`. */
  onRetry?(info: {
    readonly event: Event;
    readonly position: Position;
    readonly attempt: number;
    readonly error: unknown;
    readonly delayMs: number;
  }): void;
  /** A record was given up on and is now durable in the dead-letter sink. */
  onDeadLetter?(letter: DeadLetter): void;
  /** A record was skipped: its type is `ignore`d, or unknown with `unknownTypes: 'ignore'`. */
  onIgnored?(info: { readonly record: LogRecord; readonly type: string }): void;
  /** Checkpoints were written. */
  onCheckpoint?(info: { readonly positions: PositionMap }): void;
  /** This consumer began working on a partition (`after`: the checkpoint it resumes after). */
  onPartitionStart?(info: { readonly partition: string; readonly after: string | undefined }): void;
  onPartitionStop?(info: { readonly partition: string; readonly reason: PartitionStopReason }): void;
  /** Something failed that the consumer retries by itself (a read, a checkpoint write, the sink, a lease call). */
  onError?(error: unknown, info: { readonly stage: ErrorStage; readonly partition?: string }): void;
}

/** Sharing a group's partitions among processes. */
export interface LeaseOptions {
  readonly store: LeaseStore;
  /** How long a lease lasts without renewal. Default 10 s. */
  readonly ttlMs?: number;
  /** How often leases are renewed and partitions rebalanced. Default `ttlMs / 3`. */
  readonly renewEveryMs?: number;
  /** This process's name in the lease table. Default `<hostname>/<pid>/<random>`. */
  readonly owner?: string;
}

/** How often finished work is written to the checkpoint store. */
export interface CheckpointPolicy {
  /** Write after this many finished records. Default 5,000: each write is a durable transaction, and a crash costs at most this many redeliveries (or one second's worth). */
  readonly records?: number;
  /** Write at least this often while there is something to write. Default 1000 ms. */
  readonly ms?: number;
}

export interface ConsumerOptions<C extends Catalog> {
  readonly log: EventLog;
  readonly catalog: C;
  /** The consumer group: the name its checkpoints and leases are kept under. */
  readonly group: string;
  readonly checkpoints: CheckpointStore;
  readonly handlers: ConsumerHandlers<C>;
  readonly deadLetter: DeadLetterSink;
  /** Retries of a failing handler before its record goes to the dead letter. */
  readonly retry?: RetryPolicy;
  /** What to do with valid envelopes of types the catalog does not define. Default `'dead-letter'`. */
  readonly unknownTypes?: 'dead-letter' | 'ignore';
  /**
   * Share partitions with other processes of the group. Without it, this
   * consumer works on every partition, except on a log that runs consumer
   * groups itself (Kafka, see `isGroupSubscribable`): there it joins the
   * log's group and works on the partitions the log assigns it.
   */
  readonly leases?: LeaseOptions | LeaseStore;
  readonly checkpointEvery?: CheckpointPolicy;
  /** Where a partition without a checkpoint starts. Default `'earliest'`. */
  readonly from?: 'earliest' | 'latest';
  /** Largest batch to read at once. Default: the log's. */
  readonly maxBatch?: number;
  readonly hooks?: ConsumerHooks<EventOf<C>>;
}

/**
 * A running subscription of a consumer group to a log.
 *
 * @example
 * await consumer.start();
 * await consumer.drain(); // caught up with what was in the log
 * await consumer.stop();
 */
export interface Consumer {
  readonly group: string;
  /** Resolves once the consumer is reading (with leases: after its first round of acquiring). */
  start(): Promise<void>;
  /**
   * Stops reading, lets every in-flight handler finish (retry waits are cut
   * short), writes the checkpoints and releases the leases. Idempotent.
   */
  stop(): Promise<void>;
  /**
   * Resolves when every partition this consumer works on has finished (handled,
   * ignored or dead-lettered) everything up to the log's heads as of the call,
   * and that progress is checkpointed. Rejects with code `DRAIN_TIMEOUT` after `timeoutMs`.
   */
  drain(options?: { readonly timeoutMs?: number }): Promise<void>;
  /**
   * Per partition: the head offset minus the group's stored checkpoint
   * (numeric offsets; no checkpoint counts as offset -1). On logs whose offsets
   * are dense (memory, Kafka) this is the number of records not yet checkpointed.
   */
  lag(): Promise<Record<string, number>>;
  /** The partitions this consumer works on right now. */
  assigned(): string[];
}
