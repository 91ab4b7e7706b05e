import {
  type CheckpointStore,
  ClosedError,
  type EventLog,
  type GroupSubscribable,
  PartitionCountError,
  type PositionMap,
  RiverlogError,
} from '@riverlog/core';
import { retryingAdmin } from './admin-retry.js';
import { KafkaAppender } from './appender.js';
import { groupOffsetCheckpoints } from './checkpoints.js';
import {
  clientShape,
  type KafkaAdminLike,
  type KafkaClientFlavor,
  type KafkaClientLike,
  type KafkaLogLevel,
  kafkajsClient,
  TOPIC_RESOURCE,
  type TopicMetadata,
} from './client.js';
import { KafkaLogContext } from './context.js';
import { DedupeWindow } from './dedupe-window.js';
import { type SubscriptionErrorHandler, subscribeGroup } from './group.js';
import { readKafka } from './reader.js';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, maxEventBytesFor } from './wire.js';

/** Compression of record batches. kafkajs has gzip built in; the others need a codec registered in its `CompressionCodecs`. */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const COMPRESSION_CODES: Record<KafkaCompression, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** How to create the topic when it does not exist yet. */
export interface KafkaTopicSpec {
  /** Default: the broker's `num.partitions`. */
  readonly partitions?: number;
  /** Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'retention.ms': '-1', 'min.insync.replicas': '2' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface KafkaLogOptions {
  /**
   * A configured client: kafkajs's `new Kafka({ brokers, ssl, sasl, ... })`,
   * or @confluentinc/kafka-javascript's `new KafkaJS.Kafka({ kafkaJS: {...} })`
   * together with `client: 'confluent'`. Either this or `brokers`.
   */
  readonly kafka?: KafkaClientLike;
  /** Broker addresses (`host:port`, a list or comma-separated); riverlog then makes a kafkajs client. */
  readonly brokers?: readonly string[] | string;
  /** The client id of a client riverlog makes. Default `riverlog`. */
  readonly clientId?: string;
  /**
   * How much a kafkajs client made by riverlog logs to the console. Default
   * `'nothing'`: kafkajs logs retried, transient errors at level ERROR, and
   * riverlog reports what did fail itself (rejections, `onError`).
   */
  readonly logLevel?: KafkaLogLevel;
  /** Which KafkaJS-compatible client `kafka` is. Default `'kafkajs'`. */
  readonly client?: KafkaClientFlavor;
  /** The topic that holds the log. */
  readonly topic: string;
  /**
   * Create the topic when it does not exist (`true`: with the broker's
   * defaults). When it exists and `partitions` is given, its partition count
   * must match. Default false: the topic must exist.
   */
  readonly createTopic?: boolean | KafkaTopicSpec;
  /** Compression of produced batches. Default `'none'`. */
  readonly compression?: KafkaCompression;
  /** How many recently acknowledged event ids this log instance remembers to recognise repeats. Default 10,000. */
  readonly dedupeWindow?: number;
  /** Lowers the largest accepted envelope below what the topic allows. */
  readonly maxEventBytes?: number;
  /** Extra producer config merged over riverlog's (idempotent, acks=all), e.g. `{ retry: { maxRetryTime: 10_000 } }`. */
  readonly producer?: Readonly<Record<string, unknown>>;
  /** Extra consumer config for group subscriptions, e.g. `{ sessionTimeout: 10_000, heartbeatInterval: 1_000 }`. */
  readonly consumer?: Readonly<Record<string, unknown>>;
  /** Prefix of the throwaway consumer groups that `read` uses. Default `riverlog-read-`. */
  readonly readGroupPrefix?: string;
  /** What a group subscription survived (a failed batch, a crash). Default: printed with `console.error`. */
  readonly onError?: SubscriptionErrorHandler;
}

/** The Kafka log: an `EventLog` whose consumer groups are Kafka's own. */
export interface KafkaLog extends EventLog, GroupSubscribable {
  /** The topic that holds the log. */
  readonly topic: string;
}

const contexts = new WeakMap<KafkaLog, KafkaLogContext>();

/**
 * Opens the log on a Kafka topic: reads the topic's partitions and its
 * `max.message.bytes`, creating the topic first if asked. Appends go through
 * one idempotent producer with acks=all; each event is a CloudEvents
 * structured-mode record keyed by its subject.
 *
 * @example
 * const log = await kafkaLog({ brokers: ['127.0.0.1:9092'], topic: 'retail-stream', createTopic: { partitions: 3 } });
 * const [position] = await log.append([event]); // { partition: '1', offset: '0' }
 * for await (const batch of log.read({ from: { time: '2024-05-01T00:00:00Z' } })) handle(batch);
 * await log.close();
 *
 * @example
 * // Your own client (TLS, SASL, ...):
 * const kafka = new Kafka({ clientId: 'orders', brokers, ssl: true, sasl });
 * const log = await kafkaLog({ kafka, topic: 'retail-stream' });
 */
export async function kafkaLog(options: KafkaLogOptions): Promise<KafkaLog> {
  const topic = options.topic;
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new RiverlogError('INVALID_OPTION', `kafkaLog: topic must be a non-empty string, got ${JSON.stringify(topic)}.`);
  }
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',').map((b) => b.trim()) : options.brokers;
  if (!options.kafka && (!brokers || brokers.length === 0)) {
    throw new RiverlogError('INVALID_OPTION', 'kafkaLog: pass either `kafka` (a configured client) or `brokers`.');
  }
  const dedupeWindow = options.dedupeWindow ?? 10_000;
  if (!Number.isInteger(dedupeWindow) || dedupeWindow < 0) {
    throw new RiverlogError('INVALID_OPTION', `kafkaLog: dedupeWindow must be a whole number ≥ 0, got ${dedupeWindow}.`);
  }
  const compression = COMPRESSION_CODES[options.compression ?? 'none'];
  if (compression === undefined) {
    throw new RiverlogError('INVALID_OPTION', `kafkaLog: compression must be one of ${Object.keys(COMPRESSION_CODES).join(', ')}.`);
  }

  const kafka = options.kafka ?? (await kafkajsClient(brokers ?? [], options.clientId ?? 'riverlog', options.logLevel));
  const shape = clientShape(options.client ?? 'kafkajs');
  const uri = `kafka://${brokers?.join(',') ?? 'client'}/${topic}`;
  const admin = retryingAdmin(kafka.admin());
  try {
    await admin.connect();
  } catch (error) {
    throw new RiverlogError('CONNECT_FAILED', `kafkaLog: cannot reach Kafka for ${uri}: ${(error as Error)?.message ?? error}`, {
      cause: error,
    });
  }
  try {
    const ctx = new KafkaLogContext(kafka, shape, admin, topic, uri, options.readGroupPrefix ?? 'riverlog-read-', options.consumer ?? {});
    await ensureTopic(ctx, options.createTopic);
    const partitionCount = (await ctx.partitionIds()).length;
    const maxMessageBytes = Math.min(await topicMaxMessageBytes(admin, topic), shape.maxMessageBytes);
    const maxEventBytes = Math.min(options.maxEventBytes ?? Number.POSITIVE_INFINITY, maxEventBytesFor(maxMessageBytes));
    const appender = new KafkaAppender({
      kafka,
      shape,
      topic,
      partitionCount,
      maxMessageBytes,
      maxEventBytes,
      producer: { compression, extra: options.producer ?? {} },
      window: new DedupeWindow(dedupeWindow),
    });
    const onError: SubscriptionErrorHandler =
      options.onError ??
      ((error, info) =>
        console.error(`riverlog kafka: group ${info.group}${info.partition ? ` partition ${info.partition}` : ''}:`, error));
    let closing: Promise<void> | undefined;

    const log: KafkaLog = {
      uri,
      topic,
      maxEventBytes,
      async append(events) {
        ctx.ensureOpen();
        return appender.append(events);
      },
      read(readOptions = {}) {
        return readKafka(ctx, readOptions);
      },
      async partitions() {
        ctx.ensureOpen();
        return (await ctx.partitionIds()).map(String);
      },
      async heads() {
        ctx.ensureOpen();
        const heads: Record<string, string> = {};
        for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
          if (BigInt(high) > BigInt(low)) heads[String(partition)] = (BigInt(high) - 1n).toString();
        }
        return heads satisfies PositionMap;
      },
      async subscribe(subscribeOptions) {
        if (shape.groupsUnsupported !== undefined) {
          throw new RiverlogError(
            'UNSUPPORTED',
            `Kafka consumer groups through the ${shape.flavor} client are not supported by ${uri} (${shape.groupsUnsupported}); give createConsumer \`leases\` (and a checkpoint store such as SQLite or DynamoDB) instead.`,
          );
        }
        return subscribeGroup(ctx, subscribeOptions, onError);
      },
      close() {
        closing ??= (async () => {
          await ctx.close();
          await appender.close().catch(() => {});
          await admin.disconnect().catch(() => {});
        })();
        return closing;
      },
    };
    contexts.set(log, ctx);
    return log;
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw error;
  }
}

/**
 * A `CheckpointStore` on the log's Kafka consumer-group offsets, so Kafka's
 * tools (`kafka-consumer-groups.sh --describe`) show each group's lag.
 *
 * @example
 * const consumer = createConsumer({ log, catalog, group: 'emailer', checkpoints: kafkaCheckpoints(log), handlers, deadLetter });
 */
export function kafkaCheckpoints(log: KafkaLog): CheckpointStore {
  const ctx = contexts.get(log);
  if (!ctx) throw new RiverlogError('INVALID_OPTION', 'kafkaCheckpoints: pass a log made by kafkaLog().');
  if (ctx.isClosed) throw new ClosedError(`Kafka log ${ctx.uri}`);
  return groupOffsetCheckpoints(ctx);
}

async function ensureTopic(ctx: KafkaLogContext, spec: KafkaLogOptions['createTopic']): Promise<void> {
  if (!spec) return;
  const wanted = spec === true ? {} : spec;
  if (wanted.partitions !== undefined && (!Number.isInteger(wanted.partitions) || wanted.partitions < 1)) {
    throw new RiverlogError('INVALID_OPTION', `kafkaLog: createTopic.partitions must be a whole number ≥ 1, got ${wanted.partitions}.`);
  }
  await ctx.admin.createTopics({
    ...ctx.shape.createTopicsOptions,
    topics: [
      {
        topic: ctx.topic,
        ...(wanted.partitions === undefined ? {} : { numPartitions: wanted.partitions }),
        ...(wanted.replicationFactor === undefined ? {} : { replicationFactor: wanted.replicationFactor }),
        ...(wanted.configs ? { configEntries: Object.entries(wanted.configs).map(([name, value]) => ({ name, value })) } : {}),
      },
    ],
  });
  await waitForLeaders(ctx);
  if (wanted.partitions !== undefined) {
    const existing = (await ctx.partitionIds()).length;
    if (existing !== wanted.partitions) throw new PartitionCountError(ctx.uri, existing, wanted.partitions);
  }
}

/** Polls the topic's metadata until every partition has a leader. */
async function waitForLeaders(ctx: KafkaLogContext, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics } = (await ctx.admin.fetchTopicMetadata({ topics: [ctx.topic] })) as { topics: TopicMetadata[] };
      const partitions = topics.find((t) => t.name === ctx.topic)?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
        // The leader also answers offset requests (a KRaft broker may not, for a moment).
        await ctx.admin.fetchTopicOffsets(ctx.topic);
        return;
      }
      last = new Error('partitions without a leader');
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new RiverlogError(
        'TOPIC_NOT_READY',
        `Kafka topic ${JSON.stringify(ctx.topic)} has no leaders after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`,
        {
          cause: last,
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function topicMaxMessageBytes(admin: KafkaAdminLike, topic: string): Promise<number> {
  if (!admin.describeConfigs) return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  try {
    const described = await admin.describeConfigs({
      resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }],
      includeSynonyms: false,
    });
    const value = described.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
    const parsed = Number(value);
    return Number.isInteger(parsed) && parsed > 0 ? parsed : KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  } catch {
    // Not allowed to describe configs (ACLs): Kafka's default.
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }
}
