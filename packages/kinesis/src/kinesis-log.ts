import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { type BackoffOptions, backoffPolicy, type EventLog, type PartitionInfo, RiverlogError } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';
import { KinesisLogContext, type KinesisLogSettings } from './context.js';
import { type FanOutOptions, fanOutShardReader } from './fan-out.js';
import { DEFAULT_READ_LIMITS, type ReadLimits } from './read-budget.js';
import { readKinesis } from './reader.js';
import { mergeShards, splitShard } from './reshard.js';
import { type KinesisStreamSpec, streamRef } from './stream.js';

export type { ReadLimits } from './read-budget.js';
export type { KinesisStreamSpec } from './stream.js';

export interface KinesisLogOptions {
  /** Your configured client (credentials, region, request handler). Either this or `endpoint`. */
  readonly client?: KinesisClient;
  /**
   * An endpoint URL, e.g. a local emulator's `http://127.0.0.1:4567`: riverlog
   * makes a client with the HTTP/1.1 handler (@smithy/node-http-handler;
   * kinesalite refuses HTTP/2) and, for a loopback address, dummy credentials.
   */
  readonly endpoint?: string;
  /** The region of a client riverlog makes. Default `AWS_REGION`, else us-east-1. */
  readonly region?: string;
  /** The stream's name, or its ARN. */
  readonly stream: string;
  /**
   * Create the stream when it does not exist, for development: `true` (one
   * shard) or `{ shards }` / `{ onDemand: true }`. Default false.
   */
  readonly createStream?: boolean | KinesisStreamSpec;
  /**
   * Pack the events of one subject that one append call holds into as few
   * Kinesis records as the record limit allows (the KPL aggregation format);
   * each event then sits at offset `<sequence number>.<index>`. Readers
   * unpack aggregates whatever this says. Default false.
   */
  readonly aggregate?: boolean;
  /** Lowers the largest accepted envelope below what the stream allows. */
  readonly maxEventBytes?: number;
  /** How many recently accepted event ids this log instance remembers to recognise repeats. Default 10,000. */
  readonly dedupeWindow?: number;
  /**
   * The read budget of one shard for the whole process (every log instance
   * reading the stream at the same endpoint shares it, whatever its client). Default Kinesis's limits: 5
   * GetRecords calls and 2 MiB per second. The first reader of a shard in
   * the process sets it.
   */
  readonly readLimits?: ReadLimits;
  /** How long a reader at the tip of a shard waits before asking again. Default 1,000 ms. */
  readonly pollIntervalMs?: number;
  /** The most records one GetRecords call brings (its Limit, ≤ 10,000). Default 10,000. */
  readonly recordsPerCall?: number;
  /** The backoff (with jitter) for throttling and transient failures. Default 50 ms doubling to 5 s. */
  readonly retry?: BackoffOptions;
  /** How long the first call waits for the stream (being created, ACTIVE) before `LOG_OPEN_FAILED`. Default 30,000 ms. */
  readonly openTimeoutMs?: number;
  /**
   * How long an append keeps retrying records Kinesis throttles before it
   * rejects with `KinesisAppendError` (saying which events were accepted).
   * Default: for as long as the throttling lasts (until `close()`).
   */
  readonly appendTimeoutMs?: number;
  /** Read through enhanced fan-out (SubscribeToShard) as this registered stream consumer instead of polling GetRecords. */
  readonly fanOut?: FanOutOptions;
}

const KNOWN_OPTIONS: readonly (keyof KinesisLogOptions)[] = [
  'client',
  'endpoint',
  'region',
  'stream',
  'createStream',
  'aggregate',
  'maxEventBytes',
  'dedupeWindow',
  'readLimits',
  'pollIntervalMs',
  'recordsPerCall',
  'retry',
  'openTimeoutMs',
  'appendTimeoutMs',
  'fanOut',
];

/** The Kinesis log: an `EventLog` on a Kinesis data stream, whose shards can be split and merged. */
export interface KinesisLog extends EventLog {
  /** The stream's name. */
  readonly stream: string;
  /**
   * Splits an open shard at the middle of its hash range (SplitShard) and
   * resolves with its two children once listed. For development and tests:
   * in production, resize with UpdateShardCount.
   */
  split(partition: string): Promise<PartitionInfo[]>;
  /** Merges two open shards with adjacent hash ranges (MergeShards); resolves with the child once listed. */
  merge(a: string, b: string): Promise<PartitionInfo>;
}

/**
 * The log on a Kinesis data stream. Returns at once; it connects on the
 * first call (DescribeStreamSummary, creating the stream first if asked and
 * waiting while it is CREATING); a failure rejects that call with
 * `LOG_OPEN_FAILED` (the next call tries again). Each event is one Kinesis
 * record (or part of an aggregate) keyed by its subject; positions are shard
 * id and sequence number. Appends keep each subject's order across partial
 * failures and throttling (see the README); reads share one poller per
 * shard in the process.
 *
 * @example
 * const log = kinesisLog({ endpoint: 'http://127.0.0.1:4567', stream: 'retail-stream', createStream: { shards: 4 } });
 * const [position] = await log.append([event]); // { partition: 'shardId-000000000002', offset: '4959…' }
 * for await (const batch of log.read({ from: 'earliest' })) handle(batch.records);
 * await log.close();
 *
 * @example
 * // Your own client (credentials, region, HTTP/2 on AWS):
 * const log = kinesisLog({ client: new KinesisClient({ region: 'eu-west-1' }), stream: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail-stream' });
 */
export function kinesisLog(options: KinesisLogOptions): KinesisLog {
  checkOptions('kinesisLog', options, KNOWN_OPTIONS);
  const ctx = new KinesisLogContext(checkSettings(options));
  let closing: Promise<void> | undefined;
  const reshardContext = async () => {
    const { client } = await ctx.connect();
    return { client, stream: ctx.settings.stream, uri: ctx.uri, timeoutMs: ctx.settings.openTimeoutMs, signal: ctx.closing.signal };
  };
  return {
    uri: ctx.uri,
    stream: ctx.settings.stream.name,
    get maxEventBytes() {
      return ctx.maxEventBytes;
    },
    async append(events) {
      const { appender } = await ctx.connect();
      ctx.ensureOpen();
      return appender.append(events);
    },
    read(readOptions = {}) {
      return readKinesis(ctx, readOptions);
    },
    async partitions() {
      return (await ctx.partitions()).infos;
    },
    async split(partition) {
      return splitShard(await reshardContext(), partition);
    },
    async merge(a, b) {
      return mergeShards(await reshardContext(), a, b);
    },
    close() {
      closing ??= ctx.close();
      return closing;
    },
  };
}

function invalid(message: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `kinesisLog: ${message}`);
}

function wholeAtLeast(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max)) {
    throw invalid(`${name} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got ${String(value)}.`);
  }
}

function checkSettings(options: KinesisLogOptions): KinesisLogSettings {
  const stream = typeof options.stream === 'string' ? streamRef(options.stream) : undefined;
  if (!stream) {
    throw invalid(
      `stream must be a stream name (1–128 of a-z A-Z 0-9 _ . -) or a stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>), got ${JSON.stringify(options.stream)}.`,
    );
  }
  if (options.client === undefined && options.endpoint === undefined)
    throw invalid('pass either `client` (a configured KinesisClient) or `endpoint`.');
  if (options.client !== undefined && options.endpoint !== undefined) {
    throw invalid('pass `client` or `endpoint`, not both (set the endpoint on your client).');
  }
  if (options.endpoint !== undefined && (typeof options.endpoint !== 'string' || !/^https?:\/\/[^/]+/.test(options.endpoint))) {
    throw invalid(`endpoint must be an http(s) URL, e.g. "http://127.0.0.1:4567", got ${JSON.stringify(options.endpoint)}.`);
  }
  if (options.region !== undefined && (typeof options.region !== 'string' || options.region === '')) {
    throw invalid(`region must be a region name, e.g. "eu-west-1", got ${JSON.stringify(options.region)}.`);
  }
  const createStream = options.createStream ? (options.createStream === true ? {} : options.createStream) : false;
  if (createStream) {
    checkOptions('kinesisLog: createStream', createStream, ['shards', 'onDemand']);
    if (createStream.shards !== undefined) wholeAtLeast('createStream.shards', createStream.shards, 1);
    if (createStream.onDemand && createStream.shards !== undefined) throw invalid('createStream: give `shards` or `onDemand`, not both.');
  }
  if (options.maxEventBytes !== undefined) wholeAtLeast('maxEventBytes', options.maxEventBytes, 1);
  const dedupeWindow = options.dedupeWindow ?? 10_000;
  wholeAtLeast('dedupeWindow', dedupeWindow, 0);
  const limits = options.readLimits ?? {};
  checkOptions('kinesisLog: readLimits', limits, ['callsPerSecond', 'bytesPerSecond']);
  const readLimits = { ...DEFAULT_READ_LIMITS, ...limits };
  for (const name of ['callsPerSecond', 'bytesPerSecond'] as const) {
    const value = readLimits[name];
    if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)))
      throw invalid(`readLimits.${name} must be a number > 0, got ${String(value)}.`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  if (!(typeof pollIntervalMs === 'number' && Number.isFinite(pollIntervalMs) && pollIntervalMs >= 0)) {
    throw invalid(`pollIntervalMs must be a number ≥ 0, got ${String(pollIntervalMs)}.`);
  }
  const recordsPerCall = options.recordsPerCall ?? 10_000;
  wholeAtLeast('recordsPerCall', recordsPerCall, 1, 10_000);
  const openTimeoutMs = options.openTimeoutMs ?? 30_000;
  if (!(typeof openTimeoutMs === 'number' && Number.isFinite(openTimeoutMs) && openTimeoutMs >= 0)) {
    throw invalid(`openTimeoutMs must be a number ≥ 0, got ${String(openTimeoutMs)}.`);
  }
  const appendTimeoutMs = options.appendTimeoutMs;
  if (appendTimeoutMs !== undefined && !(typeof appendTimeoutMs === 'number' && Number.isFinite(appendTimeoutMs) && appendTimeoutMs >= 0)) {
    throw invalid(`appendTimeoutMs must be a number ≥ 0, got ${String(appendTimeoutMs)}.`);
  }
  const fanOut = options.fanOut;
  if (fanOut !== undefined) checkOptions('kinesisLog: fanOut', fanOut, ['consumerName', 'resubscribeMs', 'idleMs']);
  if (options.retry !== undefined) checkOptions('kinesisLog: retry', options.retry, ['initialMs', 'maxMs', 'factor', 'random']);
  const retry = backoffPolicy({ initialMs: 50, maxMs: 5_000, ...options.retry });
  return {
    client: options.client,
    endpoint: options.endpoint,
    region: options.region,
    stream,
    uri: `kinesis://${stream.arn ?? stream.name}`,
    createStream,
    maxEventBytes: options.maxEventBytes,
    aggregate: options.aggregate === true,
    dedupeWindow,
    readLimits,
    pollIntervalMs,
    recordsPerCall,
    retry,
    openTimeoutMs,
    appendTimeoutMs,
    fanOut: fanOut === undefined ? undefined : (context) => fanOutShardReader(context, fanOut),
  };
}
