import { ClosedError, PartitionCountError, RiverlogError } from '@riverlog/core';
import { retryingAdmin } from './admin.js';
import { KafkaAppender } from './appender.js';
import {
  type ClientShape,
  type KafkaAdminLike,
  type KafkaClientLike,
  type KafkaConsumerLike,
  type KafkaLogLevel,
  kafkajsClient,
  TOPIC_RESOURCE,
  type TopicMetadata,
} from './client.js';
import { DedupeWindow } from './dedupe-window.js';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, maxEventBytesFor } from './wire.js';

/** How to create the topic when it does not exist yet. */
export interface KafkaTopicSpec {
  /** Default: the broker's `num.partitions`. */
  readonly partitions?: number;
  /** Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'retention.ms': '-1', 'min.insync.replicas': '2' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** What the log was given, checked: everything needed to connect on first use. */
export interface KafkaLogSettings {
  readonly kafka: KafkaClientLike | undefined;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logLevel: KafkaLogLevel | undefined;
  readonly shape: ClientShape;
  readonly topic: string;
  readonly uri: string;
  readonly createTopic: false | KafkaTopicSpec;
  readonly compression: number;
  readonly dedupeWindow: number;
  readonly maxEventBytes: number | undefined;
  readonly producer: Readonly<Record<string, unknown>>;
  /** Extra config for group consumers (e.g. `sessionTimeout`). */
  readonly consumer: Readonly<Record<string, unknown>>;
  readonly readGroupPrefix: string;
}

/** What exists once the log has connected: the client, the admin, the topic's facts and the appender. */
export interface KafkaConnection {
  readonly kafka: KafkaClientLike;
  readonly admin: KafkaAdminLike;
  readonly appender: KafkaAppender;
  readonly maxEventBytes: number;
}

/**
 * What the reader and the group subscriptions share with the log: the
 * settings, the connection (made on first use; a failed attempt is tried
 * again by the next call) and the consumers to disconnect on close.
 */
export class KafkaLogContext {
  private closed = false;
  private connection: Promise<KafkaConnection> | undefined;
  private connected: KafkaConnection | undefined;
  private readonly consumers = new Set<KafkaConsumerLike>();
  private readonly closing = new Set<() => void>();

  constructor(readonly settings: KafkaLogSettings) {}

  get topic(): string {
    return this.settings.topic;
  }

  get uri(): string {
    return this.settings.uri;
  }

  get shape(): ClientShape {
    return this.settings.shape;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The largest envelope: the topic's once connected, Kafka's default before. */
  get maxEventBytes(): number {
    if (this.connected) return this.connected.maxEventBytes;
    const limit = Math.min(KAFKA_DEFAULT_MAX_MESSAGE_BYTES, this.shape.maxMessageBytes);
    return Math.min(this.settings.maxEventBytes ?? Number.POSITIVE_INFINITY, maxEventBytesFor(limit));
  }

  ensureOpen(): void {
    if (this.closed) throw new ClosedError(`Kafka log ${this.uri}`);
  }

  /** The connection, made on the first call; rejects with `LOG_OPEN_FAILED` (or the topic's own error) when it cannot be made. */
  connect(): Promise<KafkaConnection> {
    this.ensureOpen();
    if (!this.connection) {
      const attempt = openConnection(this.settings).then((connection) => {
        if (this.closed) {
          void closeConnection(connection);
          throw new ClosedError(`Kafka log ${this.uri}`);
        }
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

  /** The topic's partition ids, in order. */
  async partitionIds(): Promise<number[]> {
    return partitionIds(await this.connect(), this.settings);
  }

  /** Tracks a consumer so that `close()` disconnects it; `onClose` ends whatever uses it. */
  track(consumer: KafkaConsumerLike, onClose: () => void): () => void {
    this.consumers.add(consumer);
    this.closing.add(onClose);
    return () => {
      this.consumers.delete(consumer);
      this.closing.delete(onClose);
    };
  }

  /** Ends reads and subscriptions, waits for their consumers to disconnect, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const onClose of [...this.closing]) onClose();
    await Promise.all([...this.consumers].map((consumer) => consumer.disconnect().catch(() => {})));
    const connection = await this.connection?.catch(() => undefined);
    if (connection) await closeConnection(connection);
  }
}

async function closeConnection(connection: KafkaConnection): Promise<void> {
  await connection.appender.close().catch(() => {});
  await connection.admin.disconnect().catch(() => {});
}

function openFailed(settings: KafkaLogSettings, reason: string, cause?: unknown): RiverlogError {
  return new RiverlogError('LOG_OPEN_FAILED', `Cannot open Kafka log ${settings.uri}: ${reason}`, cause === undefined ? {} : { cause });
}

const message = (error: unknown) => (error as Error)?.message ?? String(error);

async function openConnection(settings: KafkaLogSettings): Promise<KafkaConnection> {
  const kafka = settings.kafka ?? (await kafkajsClient(settings.brokers, settings.clientId, settings.logLevel));
  const admin = retryingAdmin(kafka.admin());
  try {
    await admin.connect();
  } catch (error) {
    throw openFailed(settings, `cannot reach the brokers (${message(error)}). Check the addresses and that Kafka runs.`, error);
  }
  try {
    const partial = { kafka, admin };
    await ensureTopic(partial, settings);
    const partitionCount = (await partitionIds(partial, settings)).length;
    const maxMessageBytes = Math.min(await topicMaxMessageBytes(admin, settings.topic), settings.shape.maxMessageBytes);
    const maxEventBytes = Math.min(settings.maxEventBytes ?? Number.POSITIVE_INFINITY, maxEventBytesFor(maxMessageBytes));
    const appender = new KafkaAppender({
      kafka,
      shape: settings.shape,
      topic: settings.topic,
      partitionCount,
      maxMessageBytes,
      maxEventBytes,
      producer: { compression: settings.compression, extra: settings.producer },
      window: new DedupeWindow(settings.dedupeWindow),
    });
    return { kafka, admin, appender, maxEventBytes };
  } catch (error) {
    await admin.disconnect().catch(() => {});
    if (error instanceof RiverlogError) throw error;
    throw openFailed(settings, message(error), error);
  }
}

async function partitionIds(connection: Pick<KafkaConnection, 'admin'>, settings: KafkaLogSettings): Promise<number[]> {
  const { topics } = (await connection.admin.fetchTopicMetadata({ topics: [settings.topic] })) as { topics: TopicMetadata[] };
  const found = topics.find((t) => t.name === settings.topic);
  if (!found || found.partitions.length === 0) {
    throw openFailed(settings, `topic ${JSON.stringify(settings.topic)} does not exist. Create it, or pass createTopic.`);
  }
  return found.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
}

async function ensureTopic(connection: Pick<KafkaConnection, 'admin'>, settings: KafkaLogSettings): Promise<void> {
  const wanted = settings.createTopic;
  if (wanted === false) return;
  await connection.admin.createTopics({
    ...settings.shape.createTopicsOptions,
    topics: [
      {
        topic: settings.topic,
        ...(wanted.partitions === undefined ? {} : { numPartitions: wanted.partitions }),
        ...(wanted.replicationFactor === undefined ? {} : { replicationFactor: wanted.replicationFactor }),
        ...(wanted.configs ? { configEntries: Object.entries(wanted.configs).map(([name, value]) => ({ name, value })) } : {}),
      },
    ],
  });
  await waitForLeaders(connection.admin, settings);
  if (wanted.partitions !== undefined) {
    const existing = (await partitionIds(connection, settings)).length;
    if (existing !== wanted.partitions) throw new PartitionCountError(settings.uri, existing, wanted.partitions);
  }
}

/** Polls the topic's metadata until every partition has a leader. */
async function waitForLeaders(admin: KafkaAdminLike, settings: KafkaLogSettings, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics } = (await admin.fetchTopicMetadata({ topics: [settings.topic] })) as { topics: TopicMetadata[] };
      const partitions = topics.find((t) => t.name === settings.topic)?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
        // The leader also answers offset requests (a KRaft broker may not, for a moment).
        await admin.fetchTopicOffsets(settings.topic);
        return;
      }
      last = new Error('partitions without a leader');
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw openFailed(settings, `topic ${JSON.stringify(settings.topic)} has no leaders after ${timeoutMs} ms: ${message(last)}`, last);
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
