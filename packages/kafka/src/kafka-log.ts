import { type EventLog, type GroupSubscribable, RiverlogError } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';
import { clientShape, type KafkaClientFlavor, type KafkaClientLike, type KafkaLogLevel } from './client.js';
import { KafkaLogContext, type KafkaTopicSpec } from './context.js';
import { subscribeGroup } from './group.js';
import { readKafka } from './reader.js';

export type { KafkaTopicSpec } from './context.js';

/** Compression of record batches. kafkajs has gzip built in; the others need a codec registered in its `CompressionCodecs`. */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const COMPRESSION_CODES: Record<KafkaCompression, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

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
  /**
   * Prefix of the consumer group each `read` uses for the time it runs
   * (kafkajs assigns partitions only through groups). The group is deleted
   * when the read ends. Default `riverlog-read-`.
   */
  readonly readGroupPrefix?: string;
  /**
   * How long the first call keeps trying to open the log while Kafka answers
   * with retriable errors (a broker restarting, a topic just created that a
   * broker does not list yet or whose partitions have no leader yet), and a
   * group member to join, before it rejects with `LOG_OPEN_FAILED`. Default
   * 30,000 ms.
   */
  readonly openTimeoutMs?: number;
}

const KNOWN_OPTIONS: readonly (keyof KafkaLogOptions)[] = [
  'kafka',
  'brokers',
  'clientId',
  'logLevel',
  'client',
  'topic',
  'createTopic',
  'compression',
  'dedupeWindow',
  'maxEventBytes',
  'producer',
  'consumer',
  'readGroupPrefix',
  'openTimeoutMs',
];

/** The Kafka log: an `EventLog` whose consumer groups are Kafka's own. */
export interface KafkaLog extends EventLog, GroupSubscribable {
  /** The topic that holds the log. */
  readonly topic: string;
}

/**
 * The log on a Kafka topic. Returns at once; it connects on the first call
 * (reading the topic's partitions and its `max.message.bytes`, creating the
 * topic first if asked), retrying retriable Kafka errors with core's backoff
 * policy for up to `openTimeoutMs`; a failure to connect rejects that call
 * with `LOG_OPEN_FAILED` (the next call tries again). Appends go through one
 * idempotent producer with acks=all; each event is a CloudEvents
 * structured-mode record keyed by its subject. `maxEventBytes` is Kafka's
 * default limit until the first call has connected, the topic's after.
 *
 * @example
 * const log = kafkaLog({ brokers: ['127.0.0.1:9092'], topic: 'retail-stream', createTopic: { partitions: 3 } });
 * const [position] = await log.append([event]); // { partition: '1', offset: '0' }
 * for await (const batch of log.read({ from: { time: '2024-05-01T00:00:00Z' } })) handle(batch.records);
 * await log.close();
 *
 * @example
 * // Your own client (TLS, SASL, ...):
 * const kafka = new Kafka({ clientId: 'orders', brokers, ssl: true, sasl });
 * const log = kafkaLog({ kafka, topic: 'retail-stream' });
 */
export function kafkaLog(options: KafkaLogOptions): KafkaLog {
  checkOptions('kafkaLog', options, KNOWN_OPTIONS);
  const ctx = new KafkaLogContext(checkSettings(options));
  let closing: Promise<void> | undefined;
  return {
    uri: ctx.uri,
    topic: ctx.topic,
    get maxEventBytes() {
      return ctx.maxEventBytes;
    },
    async append(events) {
      const { appender } = await ctx.connect();
      ctx.ensureOpen();
      return appender.append(events);
    },
    read(readOptions = {}) {
      return readKafka(ctx, readOptions);
    },
    async partitions() {
      return (await ctx.partitionIds()).map((id) => ({ id: String(id), parents: [], closed: false }));
    },
    async subscribe(subscribeOptions) {
      ctx.ensureOpen();
      if (ctx.shape.groupsUnsupported !== undefined) {
        throw new RiverlogError(
          'UNSUPPORTED',
          `Kafka consumer groups through the ${ctx.shape.flavor} client are not supported by ${ctx.uri} (${ctx.shape.groupsUnsupported}); give createConsumer \`leases\` (and a checkpoint store such as SQLite or DynamoDB) instead.`,
        );
      }
      return subscribeGroup(ctx, subscribeOptions);
    },
    close() {
      closing ??= ctx.close();
      return closing;
    },
  };
}

function invalid(message: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `kafkaLog: ${message}`);
}

function checkSettings(options: KafkaLogOptions): KafkaLogContext['settings'] {
  const topic = options.topic;
  if (typeof topic !== 'string' || topic.length === 0) throw invalid(`topic must be a non-empty string, got ${JSON.stringify(topic)}.`);
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',').map((b) => b.trim()) : (options.brokers ?? []);
  if (!options.kafka && brokers.length === 0) throw invalid('pass either `kafka` (a configured client) or `brokers`.');
  const dedupeWindow = options.dedupeWindow ?? 10_000;
  if (!Number.isInteger(dedupeWindow) || dedupeWindow < 0) throw invalid(`dedupeWindow must be a whole number ≥ 0, got ${dedupeWindow}.`);
  const compression = COMPRESSION_CODES[options.compression ?? 'none'];
  if (compression === undefined) throw invalid(`compression must be one of ${Object.keys(COMPRESSION_CODES).join(', ')}.`);
  const createTopic = options.createTopic ? (options.createTopic === true ? {} : options.createTopic) : false;
  if (createTopic && createTopic.partitions !== undefined && (!Number.isInteger(createTopic.partitions) || createTopic.partitions < 1)) {
    throw invalid(`createTopic.partitions must be a whole number ≥ 1, got ${createTopic.partitions}.`);
  }
  const openTimeoutMs = options.openTimeoutMs ?? 30_000;
  if (!(Number.isFinite(openTimeoutMs) && openTimeoutMs >= 0)) throw invalid(`openTimeoutMs must be a number ≥ 0, got ${openTimeoutMs}.`);
  if (options.maxEventBytes !== undefined && !(Number.isInteger(options.maxEventBytes) && options.maxEventBytes > 0)) {
    throw invalid(`maxEventBytes must be a whole number > 0, got ${options.maxEventBytes}.`);
  }
  const flavor = options.client ?? 'kafkajs';
  if (flavor !== 'kafkajs' && flavor !== 'confluent')
    throw invalid(`client must be 'kafkajs' or 'confluent', got ${JSON.stringify(flavor)}.`);
  return {
    kafka: options.kafka,
    brokers,
    clientId: options.clientId ?? 'riverlog',
    logLevel: options.logLevel,
    shape: clientShape(flavor),
    topic,
    uri: `kafka://${options.brokers === undefined ? 'client' : brokers.join(',')}/${topic}`,
    createTopic,
    compression,
    dedupeWindow,
    maxEventBytes: options.maxEventBytes,
    producer: options.producer ?? {},
    consumer: options.consumer ?? {},
    readGroupPrefix: options.readGroupPrefix ?? 'riverlog-read-',
    openTimeoutMs,
  };
}
