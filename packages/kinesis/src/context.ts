import { setMaxListeners } from 'node:events';
import type { KinesisClient, Shard, StreamDescriptionSummary } from '@aws-sdk/client-kinesis';
import { type BackoffPolicy, backoffPolicy, ClosedError, type PartitionInfo, RiverlogError, retryForever } from '@riverlog/core';
import { DedupeWindow } from '@riverlog/core/backend';
import { KinesisAppender } from './appender.js';
import { describeError, errorName, isRetriableRead } from './aws-errors.js';
import { isLoopbackEndpoint, pollerScope, pollingShardReader } from './polling-reader.js';
import type { ReadLimits } from './read-budget.js';
import { AT_TIMESTAMP_PATIENCE_MS } from './shard-poller.js';
import type { ShardReader, ShardReaderContext } from './shard-reader.js';
import { createStream, describeStream, type KinesisStreamSpec, listShards, partitionOf, type StreamRef } from './stream.js';
import { DEFAULT_MAX_RECORD_BYTES, maxEventBytesFor } from './wire.js';

/** Makes the shard reader of enhanced fan-out (fan-out.ts), given when the log has `fanOut`. */
export type ShardReaderFactory = (context: ShardReaderContext) => ShardReader;

/** What the log was given, checked: everything needed to connect on first use. */
export interface KinesisLogSettings {
  readonly client: KinesisClient | undefined;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly stream: StreamRef;
  readonly uri: string;
  readonly createStream: false | KinesisStreamSpec;
  readonly maxEventBytes: number | undefined;
  readonly aggregate: boolean;
  readonly dedupeWindow: number;
  readonly readLimits: Required<ReadLimits>;
  readonly pollIntervalMs: number;
  readonly recordsPerCall: number;
  readonly retry: BackoffPolicy;
  readonly openTimeoutMs: number;
  readonly appendTimeoutMs: number | undefined;
  readonly fanOut: ShardReaderFactory | undefined;
}

/** What exists once the log has connected. */
export interface KinesisConnection {
  readonly client: KinesisClient;
  readonly streamArn: string;
  readonly maxRecordBytes: number;
  readonly maxEventBytes: number;
  readonly appender: KinesisAppender;
  readonly reader: ShardReader;
}

/** Waits while opening: a stream being created is usually ACTIVE within seconds. */
const openBackoff = backoffPolicy({ initialMs: 20, maxMs: 1_000 });

/**
 * What the reader and the appender share with the log: the settings, the
 * connection (made on first use; a failed attempt is tried again by the
 * next call), the reads under way (ended on close), and the child shards
 * Kinesis named at shard ends (listed by `partitions()` even before
 * ListShards shows them).
 */
export class KinesisLogContext {
  private closed = false;
  private connection: Promise<KinesisConnection> | undefined;
  private connected: KinesisConnection | undefined;
  private ownClient: KinesisClient | undefined;
  private readonly reads = new Set<AbortController>();
  private readonly children = new Map<string, PartitionInfo>();
  /** Aborted on close: opening, appends waiting out throttling and reads end. */
  readonly closing = new AbortController();

  constructor(readonly settings: KinesisLogSettings) {
    // Appends under way and reads listen to it.
    setMaxListeners(0, this.closing.signal);
  }

  get uri(): string {
    return this.settings.uri;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The largest envelope: the stream's once connected, a default stream's (1 MiB records) before. */
  get maxEventBytes(): number {
    if (this.connected) return this.connected.maxEventBytes;
    return Math.min(this.settings.maxEventBytes ?? Number.POSITIVE_INFINITY, maxEventBytesFor(DEFAULT_MAX_RECORD_BYTES));
  }

  ensureOpen(): void {
    if (this.closed) throw new ClosedError(`Kinesis log ${this.uri}`);
  }

  connect(): Promise<KinesisConnection> {
    this.ensureOpen();
    if (!this.connection) {
      const attempt = this.open().then((connection) => {
        if (this.closed) throw new ClosedError(`Kinesis log ${this.uri}`);
        this.connected = connection;
        return connection;
      });
      this.connection = attempt;
      attempt.catch(() => {
        if (this.connection === attempt) this.connection = undefined;
      });
    }
    return this.connection;
  }

  /** A controller for one read: aborted when the log closes. */
  startRead(): AbortController {
    const controller = new AbortController();
    // Each shard of the read listens to it (its source and its wait): many shards are many listeners.
    setMaxListeners(0, controller.signal);
    this.reads.add(controller);
    if (this.closed) controller.abort();
    return controller;
  }

  endRead(controller: AbortController): void {
    this.reads.delete(controller);
  }

  /** Every shard with its lineage: ListShards, plus children named at shard ends that it does not list yet. */
  async partitions(): Promise<{ readonly infos: PartitionInfo[]; readonly shards: Shard[] }> {
    const { client } = await this.connect();
    let shards: Shard[];
    try {
      shards = await retryForever(() => listShards(client, this.settings.stream), {
        policy: this.settings.retry,
        retryable: isRetriableRead,
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.settings.openTimeoutMs)]),
      });
    } catch (error) {
      this.ensureOpen();
      throw new RiverlogError('LOG_READ_FAILED', `Listing the shards of ${this.uri} failed: ${describeError(error)}.`, { cause: error });
    }
    this.ensureOpen();
    const infos = shards.map(partitionOf);
    const listed = new Set(infos.map((info) => info.id));
    for (const [id, child] of this.children) {
      if (listed.has(id)) this.children.delete(id);
      else infos.push(child);
    }
    return { infos, shards };
  }

  /** Children Kinesis named at the end of `parent` (GetRecords' or SubscribeToShard's ChildShards). */
  noteChildren(children: readonly { ShardId?: string; ParentShards?: string[] }[]): void {
    for (const child of children) {
      if (child.ShardId) this.children.set(child.ShardId, { id: child.ShardId, parents: child.ParentShards ?? [], closed: false });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    for (const read of this.reads) read.abort();
    const connection = await this.connection?.catch(() => undefined);
    if (connection) {
      await connection.appender.idle();
      await connection.reader.close().catch(() => {});
    }
    this.ownClient?.destroy();
  }

  private async client(): Promise<KinesisClient> {
    if (this.settings.client) return this.settings.client;
    if (!this.ownClient) this.ownClient = await endpointClient(this.settings.endpoint as string, this.settings.region);
    return this.ownClient;
  }

  /** Describes the stream (creating it first if asked and missing), waiting while it is CREATING, for up to `openTimeoutMs`. */
  private async open(): Promise<KinesisConnection> {
    const { settings } = this;
    const client = await this.client();
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(settings.openTimeoutMs)]);
    let created = false;
    let summary: StreamDescriptionSummary;
    try {
      summary = await retryForever(
        async () => {
          try {
            const described = await describeStream(client, settings.stream);
            if (described.StreamStatus === 'CREATING') throw new NotReady(`stream is ${described.StreamStatus}`);
            if (described.StreamStatus === 'DELETING') throw new Error(`the stream is being deleted`);
            return described;
          } catch (error) {
            if (errorName(error) !== 'ResourceNotFoundException') throw error;
            if (settings.createStream === false || created) throw error;
            await createStream(client, settings.stream, settings.createStream);
            created = true;
            throw new NotReady('stream just created');
          }
        },
        {
          policy: openBackoff,
          signal,
          retryable: (error) =>
            error instanceof NotReady || isRetriableRead(error) || (created && errorName(error) === 'ResourceNotFoundException'),
        },
      );
    } catch (error) {
      this.ensureOpen();
      const name = JSON.stringify(settings.stream.name);
      const reason =
        errorName(error) === 'ResourceNotFoundException'
          ? settings.createStream === false
            ? `stream ${name} does not exist. Create it, or pass createStream (for development).`
            : `stream ${name} was created but is still not found after ${settings.openTimeoutMs} ms`
          : error instanceof NotReady
            ? `stream ${name} is not ACTIVE after ${settings.openTimeoutMs} ms (${error.message})`
            : `${describeError(error)}. Check the endpoint, region, credentials and that this role may call DescribeStreamSummary.`;
      throw new RiverlogError('LOG_OPEN_FAILED', `Cannot open Kinesis log ${this.uri}: ${reason}`, { cause: error });
    }
    const maxRecordBytes = summary.MaxRecordSizeInKiB ? summary.MaxRecordSizeInKiB * 1024 : DEFAULT_MAX_RECORD_BYTES;
    const maxEventBytes = Math.min(settings.maxEventBytes ?? Number.POSITIVE_INFINITY, maxEventBytesFor(maxRecordBytes));
    const streamArn = summary.StreamARN ?? settings.stream.arn ?? '';
    const appender = new KinesisAppender({
      client,
      stream: settings.stream,
      uri: this.uri,
      maxRecordBytes,
      maxEventBytes,
      aggregate: settings.aggregate,
      window: new DedupeWindow(settings.dedupeWindow),
      retry: settings.retry,
      closing: this.closing.signal,
      appendTimeoutMs: settings.appendTimeoutMs,
    });
    const readerContext = { client, stream: settings.stream, uri: this.uri, retry: settings.retry };
    const reader = settings.fanOut
      ? settings.fanOut({ client, streamName: settings.stream.name, streamArn, uri: this.uri, retry: settings.retry })
      : pollingShardReader(
          { ...readerContext, pollerScope: await pollerScope(client, streamArn, settings.stream.name) },
          {
            limits: settings.readLimits,
            pollIntervalMs: settings.pollIntervalMs,
            recordsPerCall: settings.recordsPerCall,
            atTimestampPatienceMs: (await isLoopbackEndpoint(client)) ? AT_TIMESTAMP_PATIENCE_MS : undefined,
          },
        );
    return { client, streamArn, maxRecordBytes, maxEventBytes, appender, reader };
  }
}

class NotReady extends Error {}

/**
 * A client for an endpoint, as local emulators need it: HTTP/1.1 (kinesalite
 * refuses the SDK's HTTP/2 default), and dummy credentials for a
 * loopback endpoint (emulators take any).
 */
async function endpointClient(endpoint: string, region: string | undefined): Promise<KinesisClient> {
  const { KinesisClient } = await import('@aws-sdk/client-kinesis');
  let NodeHttpHandler: typeof import('@smithy/node-http-handler').NodeHttpHandler;
  try {
    ({ NodeHttpHandler } = await import('@smithy/node-http-handler'));
  } catch (error) {
    throw new RiverlogError(
      'MISSING_DEPENDENCY',
      `kinesisLog({ endpoint }) needs @smithy/node-http-handler (npm install @smithy/node-http-handler), or pass your own \`client\`.`,
      { cause: error },
    );
  }
  const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/.test(endpoint);
  return new KinesisClient({
    endpoint,
    region: region ?? process.env.AWS_REGION ?? 'us-east-1',
    requestHandler: new NodeHttpHandler(),
    ...(local ? { credentials: { accessKeyId: 'riverlog-local', secretAccessKey: 'riverlog-local' } } : {}),
  });
}
