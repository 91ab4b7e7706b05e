import { backoffPolicy, ClosedError, PartitionCountError, type RetryForeverOptions, RiverlogError, retryForever } from '@riverlog/core';
import { DedupeWindow } from '@riverlog/core/backend';
import { isRetriable, retryingAdmin } from './admin.js';
import { KafkaAppender } from './appender.js';
import {
  type ClientShape,
  type KafkaAdminLike,
  type KafkaClientLike,
  type KafkaLogLevel,
  kafkajsClient,
  TOPIC_RESOURCE,
  type TopicMetadata,
} from './client.js';
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
  /** How long opening (and joining a group) keeps retrying retriable Kafka errors before it gives up. */
  readonly openTimeoutMs: number;
}

/** What exists once the log has connected: the client, the admin, the topic's facts and the appender. */
export interface KafkaConnection {
  readonly kafka: KafkaClientLike;
  readonly admin: KafkaAdminLike;
  readonly appender: KafkaAppender;
  readonly maxEventBytes: number;
}

/** Something that uses the connection (a read, a group member): `close()` ends it and waits for its release. */
interface ConnectionUser {
  readonly end: () => void;
  readonly release: () => Promise<void>;
}

/**
 * What the reader and the group subscriptions share with the log: the
 * settings, the connection (made on first use; a failed attempt is tried
 * again by the next call) and its users, ended and released on close
 * before the connection closes.
 */
export class KafkaLogContext {
  private closed = false;
  private connection: Promise<KafkaConnection> | undefined;
  private connected: KafkaConnection | undefined;
  private readonly users = new Set<ConnectionUser>();
  /** Aborts an open under way when the log closes. */
  private readonly closing = new AbortController();

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

  /**
   * The connection, made on the first call; rejects with `LOG_OPEN_FAILED`
   * (or the topic's own error) when it cannot be made within
   * `openTimeoutMs`, retrying retriable Kafka errors until then.
   */
  connect(): Promise<KafkaConnection> {
    this.ensureOpen();
    if (!this.connection) {
      const attempt = openConnection(this.settings, this.closing.signal).then((connection) => {
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

  /**
   * Retries `call` on retriable Kafka errors (a broker restarting, a
   * coordinator loading, a topic just created) by core's backoff policy,
   * for up to `openTimeoutMs` or until the log closes; then rejects with
   * the last error.
   */
  patiently<T>(call: () => Promise<T>): Promise<T> {
    return retryForever(call, patience(this.settings, this.closing.signal));
  }

  /** The topic's partition ids, in order. */
  async partitionIds(): Promise<number[]> {
    return partitionIds(await this.connect(), this.settings);
  }

  /**
   * Registers a user of the connection: `close()` calls `end` and then
   * `release` (once: the function returned is that same release, for the
   * user to call when it ends by itself), and closes the connection only
   * after every release finished. Closed already: ends it at once.
   */
  use(end: () => void, release: () => Promise<void>): () => Promise<void> {
    let released: Promise<void> | undefined;
    const user: ConnectionUser = {
      end,
      release: () => {
        released ??= release()
          .catch(() => {})
          .finally(() => this.users.delete(user));
        return released;
      },
    };
    this.users.add(user);
    if (this.closed) end();
    return user.release;
  }

  /** Ends reads and subscriptions, waits for their releases (consumers disconnected, read groups deleted), then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    const users = [...this.users];
    for (const user of users) user.end();
    await Promise.all(users.map((user) => user.release()));
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

/** Waits between attempts to open: short at first (a topic just created gets its leaders within a second). */
const openBackoff = backoffPolicy({ initialMs: 50, maxMs: 2_000 });

function patience(settings: KafkaLogSettings, closing: AbortSignal): RetryForeverOptions {
  return {
    policy: openBackoff,
    retryable: isRetriable,
    signal: AbortSignal.any([closing, AbortSignal.timeout(settings.openTimeoutMs)]),
  };
}

/** A topic that is not there, or not ready, yet: retriable, as Kafka's own UNKNOWN_TOPIC_OR_PARTITION and LEADER_NOT_AVAILABLE are. */
class TopicNotReady extends Error {
  readonly retriable = true;
  constructor(
    readonly missing: boolean,
    reason: string,
  ) {
    super(reason);
    this.name = 'TopicNotReady';
  }
}

/** Whether `error` says the topic does not exist (Kafka's UNKNOWN_TOPIC_OR_PARTITION, or a metadata answer without it). */
function isMissingTopic(error: unknown): boolean {
  for (let e = error as { type?: string; missing?: boolean; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION' || (e instanceof TopicNotReady && e.missing)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * Connects and opens the topic (creating it if asked). Retriable Kafka
 * errors are tried again for up to `openTimeoutMs`: a broker that restarts,
 * a topic just created (here or by another process) that a broker does not
 * list yet or whose partitions have no leader yet. Then, or at once for
 * anything else, it rejects with `LOG_OPEN_FAILED`.
 */
async function openConnection(settings: KafkaLogSettings, closing: AbortSignal): Promise<KafkaConnection> {
  const kafka = settings.kafka ?? (await kafkajsClient(settings.brokers, settings.clientId, settings.logLevel));
  const admin = retryingAdmin(kafka.admin(), `Kafka log ${settings.uri}`);
  const options = patience(settings, closing);
  try {
    await retryForever(() => admin.connect(), options);
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw openFailed(settings, `cannot reach the brokers (${message(error)}). Check the addresses and that Kafka runs.`, error);
  }
  try {
    const partitionCount = (await retryForever(() => openTopic(admin, settings), options)).length;
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
    const topic = JSON.stringify(settings.topic);
    if (isMissingTopic(error)) {
      throw openFailed(
        settings,
        settings.createTopic === false
          ? `topic ${topic} does not exist (still unknown after ${settings.openTimeoutMs} ms). Create it, or pass createTopic.`
          : `topic ${topic} was created but is still unknown to the broker after ${settings.openTimeoutMs} ms: ${message(error)}`,
        error,
      );
    }
    if (isRetriable(error)) {
      throw openFailed(settings, `topic ${topic} is not ready after ${settings.openTimeoutMs} ms: ${message(error)}`, error);
    }
    throw openFailed(settings, message(error), error);
  }
}

/**
 * One attempt to open the topic: creates it when asked, checks that every
 * partition has a leader that answers offset requests (a KRaft broker may
 * not, for a moment), and that the partition count is the one asked for.
 * Resolves with the partition ids; rejects with a retriable error while the
 * topic is missing or not ready.
 */
async function openTopic(admin: KafkaAdminLike, settings: KafkaLogSettings): Promise<number[]> {
  const wanted = settings.createTopic;
  if (wanted !== false) {
    await admin.createTopics({
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
  }
  const { topics } = (await admin.fetchTopicMetadata({ topics: [settings.topic] })) as { topics: TopicMetadata[] };
  const partitions = topics.find((t) => t.name === settings.topic)?.partitions ?? [];
  if (partitions.length === 0) throw new TopicNotReady(true, `the broker does not list topic ${JSON.stringify(settings.topic)}`);
  const leaderless = partitions.filter((p) => p.leader < 0).map((p) => p.partitionId);
  if (leaderless.length > 0) throw new TopicNotReady(false, `partitions ${leaderless.join(', ')} have no leader`);
  await admin.fetchTopicOffsets(settings.topic);
  if (wanted !== false && wanted.partitions !== undefined && partitions.length !== wanted.partitions) {
    throw new PartitionCountError(settings.uri, partitions.length, wanted.partitions);
  }
  return partitions.map((p) => p.partitionId).sort((a, b) => a - b);
}

async function partitionIds(connection: Pick<KafkaConnection, 'admin'>, settings: KafkaLogSettings): Promise<number[]> {
  const { topics } = (await connection.admin.fetchTopicMetadata({ topics: [settings.topic] })) as { topics: TopicMetadata[] };
  const found = topics.find((t) => t.name === settings.topic);
  if (!found || found.partitions.length === 0) {
    throw openFailed(settings, `topic ${JSON.stringify(settings.topic)} does not exist. Create it, or pass createTopic.`);
  }
  return found.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
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
