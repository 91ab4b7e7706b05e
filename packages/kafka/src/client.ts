// The part of the KafkaJS API riverlog uses, typed structurally so that
// kafkajs's `Kafka` and @confluentinc/kafka-javascript's `KafkaJS.Kafka` both
// fit without importing either.

import { RiverlogError } from '@riverlog/core';

/** A header value as KafkaJS clients hand it over. */
export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface KafkaOutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: Record<string, string>;
  timestamp?: string;
}

export interface KafkaRecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  baseOffset?: string;
}

export interface KafkaProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: { topic: string; messages: KafkaOutgoingMessage[]; acks?: number; compression?: number }): Promise<KafkaRecordMetadata[]>;
}

export interface KafkaIncomingMessage {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  offset: string;
  headers?: KafkaHeaders;
}

export interface KafkaBatchLike {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaIncomingMessage[];
  lastOffset(): string;
}

export interface KafkaEachBatchPayload {
  batch: KafkaBatchLike;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface KafkaConsumerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: {
    autoCommit?: boolean;
    eachBatchAutoResolve?: boolean;
    partitionsConsumedConcurrently?: number;
    eachBatch: (payload: KafkaEachBatchPayload) => Promise<void>;
  }): Promise<void>;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  seek(position: { topic: string; partition: number; offset: string }): void;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  // biome-ignore lint/suspicious/noExplicitAny: listener payloads differ per event; only GROUP_JOIN and CRASH are read.
  on?(eventName: string, listener: (event: any) => void): unknown;
  readonly events?: { readonly GROUP_JOIN: string; readonly CRASH: string; readonly REBALANCING: string };
}

export interface TopicMetadata {
  name: string;
  partitions: { partitionId: number; leader: number }[];
}

export interface KafkaAdminLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  createTopics(options: {
    waitForLeaders?: boolean;
    topics: { topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: { name: string; value: string }[] }[];
  }): Promise<boolean>;
  fetchTopicMetadata(options: {
    topics: string[];
  }): Promise<{ topics: { name: string; partitions: { partitionId: number; leader: number }[] }[] }>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; high: string; low: string }[]>;
  fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<{ partition: number; offset: string }[]>;
  fetchOffsets(options: {
    groupId: string;
    topics: string[];
  }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  /** Deletes empty groups (the throwaway groups of reads). */
  deleteGroups?(groupIds: string[]): Promise<unknown>;
  /** Not in the Confluent client. */
  describeConfigs?(options: {
    resources: { type: number; name: string; configNames?: string[] }[];
    includeSynonyms: boolean;
  }): Promise<{ resources: { configEntries: { configName: string; configValue: string }[]; errorCode: number }[] }>;
}

/**
 * A configured Kafka client: kafkajs's `new Kafka({...})`, or
 * @confluentinc/kafka-javascript's `new KafkaJS.Kafka({...})` (then pass
 * `client: 'confluent'` too). Only the KafkaJS API surface is used.
 */
export interface KafkaClientLike {
  // biome-ignore lint/suspicious/noExplicitAny: the two clients take differently shaped configs; riverlog builds them per flavor.
  producer(config?: any): KafkaProducerLike;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  consumer(config: any): KafkaConsumerLike;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  admin(config?: any): KafkaAdminLike;
}

/** Which KafkaJS-compatible client it is: their configs are shaped differently. */
export type KafkaClientFlavor = 'kafkajs' | 'confluent';

/** KafkaJS's `ConfigResourceTypes.TOPIC`. */
export const TOPIC_RESOURCE = 2;

export interface ProducerSettings {
  readonly compression: number;
  /** Extra producer config, merged over riverlog's (e.g. `retry`). */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface ConsumerSettings {
  readonly groupId: string;
  readonly topic: string;
  readonly fromBeginning: boolean;
  readonly maxWaitTimeInMs?: number;
  /** Extra consumer config (e.g. `sessionTimeout`, `heartbeatInterval`). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** What a group member learns about its membership, whichever client tells it. */
export interface GroupEvents {
  /** Partitions of the topic given to this member; `whole`: the list is the entire new assignment. */
  assigned(partitions: number[], whole: boolean): void;
  /** A rebalance began: finish the record in hand. */
  rebalancing(): void;
  /** The client's consumer failed; `restarting`: it rejoins by itself. */
  crashed(error: unknown, restarting: boolean): void;
}

export interface RunSettings {
  readonly partitionsConsumedConcurrently: number;
  readonly eachBatch: (payload: KafkaEachBatchPayload) => Promise<void>;
}

/**
 * Builds producer and consumer configs and send/subscribe/run arguments in
 * the shape each client wants: kafkajs takes them flat and per call; the
 * Confluent client wants them under `kafkaJS` in the constructor config and
 * has no instrumentation events.
 */
export interface ClientShape {
  readonly flavor: KafkaClientFlavor;
  /** The largest message the client itself sends, whatever the topic allows. */
  readonly maxMessageBytes: number;
  /** Why `subscribe` (consumer groups) is refused with this client, or undefined when it is offered. */
  readonly groupsUnsupported: string | undefined;
  /** What `admin.createTopics` takes besides the topics. */
  readonly createTopicsOptions: Readonly<Record<string, unknown>>;
  producer(kafka: KafkaClientLike, settings: ProducerSettings): KafkaProducerLike;
  send(
    producer: KafkaProducerLike,
    topic: string,
    messages: KafkaOutgoingMessage[],
    settings: ProducerSettings,
  ): Promise<KafkaRecordMetadata[]>;
  consumer(kafka: KafkaClientLike, settings: ConsumerSettings, events?: GroupEvents): KafkaConsumerLike;
  subscribe(consumer: KafkaConsumerLike, settings: ConsumerSettings): Promise<void>;
  /** Starts consuming with autoCommit off and eachBatchAutoResolve off. */
  run(consumer: KafkaConsumerLike, settings: RunSettings): Promise<void>;
}

/** Every message carries its partition (chosen by riverlog); the client's partitioner only passes it on. */
const explicitPartition = () => (args: { message: { partition?: number } }) => args.message.partition ?? 0;

const kafkajsShape: ClientShape = {
  flavor: 'kafkajs',
  maxMessageBytes: Number.POSITIVE_INFINITY,
  groupsUnsupported: undefined,
  // kafkajs's own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment after
  // creating a topic; kafkaLog waits for the leaders itself.
  createTopicsOptions: { waitForLeaders: false },
  producer: (kafka, settings) => kafka.producer({ idempotent: true, createPartitioner: explicitPartition, ...settings.extra }),
  send: (producer, topic, messages, settings) => producer.send({ topic, messages, acks: -1, compression: settings.compression }),
  consumer(kafka, settings, events) {
    const consumer = kafka.consumer({
      groupId: settings.groupId,
      ...(settings.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: settings.maxWaitTimeInMs }),
      ...settings.extra,
    });
    if (events && consumer.on && consumer.events) {
      const names = consumer.events as { GROUP_JOIN: string; CRASH: string; REBALANCING: string };
      consumer.on(names.GROUP_JOIN, (event: { payload: { memberAssignment: Record<string, number[]> } }) =>
        events.assigned([...(event.payload.memberAssignment[settings.topic] ?? [])], true),
      );
      consumer.on(names.REBALANCING, () => events.rebalancing());
      consumer.on(names.CRASH, (event: { payload: { error: unknown; restart: boolean } }) =>
        events.crashed(event.payload.error, event.payload.restart),
      );
    }
    return consumer;
  },
  subscribe: (consumer, settings) => consumer.subscribe({ topics: [settings.topic], fromBeginning: settings.fromBeginning }),
  run: (consumer, settings) => consumer.run({ autoCommit: false, eachBatchAutoResolve: false, ...settings }),
};

const confluentShape: ClientShape = {
  flavor: 'confluent',
  // librdkafka refuses messages over its own message.max.bytes, 1,000,000 by default.
  maxMessageBytes: 1_000_000,
  // Offsets committed through its KafkaJS layer did not all persist in our tests: not offered until they do.
  groupsUnsupported: 'offsets committed through its KafkaJS layer did not all persist in our tests',
  // It refuses waitForLeaders altogether.
  createTopicsOptions: {},
  producer: (kafka, settings) =>
    kafka.producer({ kafkaJS: { idempotent: true, acks: -1, compression: compressionName(settings.compression), ...settings.extra } }),
  send: (producer, topic, messages) => producer.send({ topic, messages }),
  // Reads only: consumer groups through this client are refused by kafkaLog (see its subscribe).
  consumer: (kafka, settings) =>
    kafka.consumer({
      kafkaJS: {
        groupId: settings.groupId,
        fromBeginning: settings.fromBeginning,
        autoCommit: false,
        ...(settings.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: settings.maxWaitTimeInMs }),
        ...settings.extra,
      },
    }),
  subscribe: (consumer, settings) => consumer.subscribe({ topics: [settings.topic] }),
  run: (consumer, settings) => consumer.run({ eachBatchAutoResolve: false, ...settings }),
};

function compressionName(code: number): string {
  return ['none', 'gzip', 'snappy', 'lz4', 'zstd'][code] ?? 'none';
}

export function clientShape(flavor: KafkaClientFlavor): ClientShape {
  return flavor === 'confluent' ? confluentShape : kafkajsShape;
}

/** How much kafkajs logs (to the console) when riverlog makes the client from `brokers`. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

const LOG_LEVELS: Record<KafkaLogLevel, number> = { nothing: 0, error: 1, warn: 2, info: 4, debug: 5 };

/** Makes a kafkajs client for `brokers`; kafkajs is an optional peer dependency, loaded only here. */
export async function kafkajsClient(
  brokers: readonly string[],
  clientId: string,
  logLevel: KafkaLogLevel = 'nothing',
): Promise<KafkaClientLike> {
  let kafkajs: { Kafka: new (config: object) => KafkaClientLike };
  try {
    kafkajs = (await import('kafkajs')) as unknown as typeof kafkajs;
  } catch (error) {
    throw new RiverlogError(
      'MISSING_DEPENDENCY',
      'kafkaLog({ brokers }) needs the kafkajs package: npm install kafkajs (or pass your own client as `kafka`).',
      { cause: error },
    );
  }
  return new kafkajs.Kafka({ clientId, brokers: [...brokers], logLevel: LOG_LEVELS[logLevel] });
}
