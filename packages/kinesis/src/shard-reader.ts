// The seam between the log and how it gets a shard's records: GetRecords
// polling (polling-reader.ts) or enhanced fan-out (fan-out.ts). Everything
// above a page (deaggregation, offsets, the types filter, batches, caught-up
// and ended, lag, lineage) is the log's, the same for both.

import type { ChildShard, KinesisClient, _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { BackoffPolicy } from '@riverlog/core';

export type { KinesisRecord };

/** Where a shard read starts (GetShardIterator's types; SubscribeToShard's StartingPosition). */
export type ShardStart =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AT_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date };

/** One page of raw records of one shard, in sequence order, as Kinesis delivered them. */
export interface ShardPage {
  /** Raw Kinesis records, not deaggregated (the log decodes KPL aggregates itself). May be empty. */
  readonly records: readonly KinesisRecord[];
  /** MillisBehindLatest of the call or event that brought the page; undefined when Kinesis gave none. */
  readonly millisBehindLatest: number | undefined;
  /**
   * After these records the reader was at the tip of the shard when they
   * were fetched (MillisBehindLatest 0 and, for polling, a page the record
   * limit did not cut).
   */
  readonly atTip: boolean;
  /** The shard is closed and these are its last records: `next()` is not called again. Implies `atTip`. */
  readonly ended: boolean;
  /** The ChildShards Kinesis named at the shard's end (kinesis-local and AWS; kinesalite names none). */
  readonly childShards?: readonly ChildShard[];
  /** The records' Data bytes together (what the 2 MiB/s read budget counts). */
  readonly bytes: number;
}

/** The pages of one shard from one start: a pull iterator. */
export interface ShardPageSource {
  /**
   * The next page. At the tip it waits (polling: the poll interval; fan-out:
   * the next event) and then resolves, possibly with an empty page (`atTip`).
   * Resolves `undefined` once the source's signal aborted. Transient
   * failures (throttling, KMS throttling, network, an expired iterator or
   * subscription) are retried inside with the context's backoff policy,
   * renewing from the last sequence number delivered; anything else rejects
   * with a `RiverlogError` (`LOG_READ_FAILED`) naming stream, shard and
   * position. After a rejection, `undefined` or an `ended` page, `next()` is
   * not called again.
   */
  next(): Promise<ShardPage | undefined>;
  /** Releases what this source holds (an iterator, a subscription, its share of a poller). Idempotent. */
  close(): void;
}

/** What a shard reader gets from the log once it has connected. */
export interface ShardReaderContext {
  readonly client: KinesisClient;
  readonly streamName: string;
  /** From DescribeStreamSummary: always known once the log has connected. */
  readonly streamArn: string;
  /** The log as messages name it, e.g. `kinesis://retail-stream`. */
  readonly uri: string;
  /** Core's backoff policy for transient failures (jitter included). */
  readonly retry: BackoffPolicy;
}

/** Opens page sources for shards; one per log, made on its first read. */
export interface ShardReader {
  /** A source for `shardId` from `start`; `signal` ends it (then `next()` resolves `undefined`). */
  open(shardId: string, start: ShardStart, signal: AbortSignal): ShardPageSource;
  /** Ends every source it opened and releases what it shares; registered stream consumers stay registered. */
  close(): Promise<void>;
}
