import { RiverlogError } from '@riverlog/core';
import type { PartitionHead } from './heads.js';

/** What Kafka's admin API says of a topic: each partition's offsets, and the consumer groups that committed offsets on it. */
export interface KafkaTopicState {
  readonly heads: Map<string, PartitionHead>;
  /** Per group, the last finished offset per partition (Kafka commits the next offset to read; this is one less). */
  readonly groups: Map<string, Record<string, string>>;
}

interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]>;
  listGroups(): Promise<{ groups: { groupId: string }[] }>;
  fetchOffsets(options: {
    groupId: string;
    topics: string[];
  }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/**
 * Reads the topic's watermarks and its groups' committed offsets through
 * kafkajs's admin client (riverlog's log reads one record through a consumer
 * group of its own per read, seconds on Kafka; the admin API answers at once).
 * Groups whose name starts with `readGroupPrefix` (riverlog's own reads) are left out.
 */
export async function kafkaTopicState(
  brokers: readonly string[],
  topic: string,
  readGroupPrefix = 'riverlog-read-',
): Promise<KafkaTopicState> {
  const admin = await connectAdmin(brokers);
  try {
    await mustExist(admin, brokers, topic);
    const heads = new Map<string, PartitionHead>();
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      const records = Number(BigInt(high) - BigInt(low));
      heads.set(String(partition), records > 0 ? { first: low, head: (BigInt(high) - 1n).toString(), records } : { records: 0 });
    }
    const groups = new Map<string, Record<string, string>>();
    const { groups: listed } = await admin.listGroups();
    for (const { groupId } of listed) {
      if (groupId.startsWith(readGroupPrefix)) continue;
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed: Record<string, string> = {};
      for (const { partition, offset } of offsets?.partitions ?? []) {
        if (BigInt(offset) > 0n) committed[String(partition)] = (BigInt(offset) - 1n).toString();
      }
      if (Object.keys(committed).length > 0) groups.set(groupId, committed);
    }
    return { heads, groups };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function connectAdmin(brokers: readonly string[]): Promise<Admin> {
  let kafkajs: { Kafka: new (config: object) => { admin(): Admin }; logLevel: { NOTHING: number } };
  try {
    kafkajs = (await import('kafkajs' as string)) as typeof kafkajs;
  } catch {
    throw new RiverlogError('MISSING_DEPENDENCY', 'riverlog on Kafka needs kafkajs; install it.');
  }
  const admin = new kafkajs.Kafka({
    clientId: 'riverlog-cli',
    brokers: [...brokers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 3 },
  }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new RiverlogError('LOG_OPEN_FAILED', `Cannot reach Kafka at ${brokers.join(',')}: ${(error as Error).message}.`);
  }
  return admin;
}

async function mustExist(admin: Admin, brokers: readonly string[], topic: string): Promise<void> {
  if (!(await admin.listTopics()).includes(topic)) {
    throw new RiverlogError(
      'LOG_OPEN_FAILED',
      `No topic ${JSON.stringify(topic)} on Kafka at ${brokers.join(',')}: check the name; only import creates a topic.`,
    );
  }
}

/**
 * Fails at once with `LOG_OPEN_FAILED` when the topic is not on the brokers.
 * Reading commands check first: the Kafka log would wait its whole open
 * timeout (30 s) for a topic that may be about to appear, which a mistyped name never does.
 */
export async function assertKafkaTopic(brokers: readonly string[], topic: string): Promise<void> {
  const admin = await connectAdmin(brokers);
  try {
    await mustExist(admin, brokers, topic);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
