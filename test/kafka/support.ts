// What every Kafka test file shares: the broker of this run, unique topics, a skip rule.
import { ulid } from '@riverlog/core';
import { until } from '@riverlog/testing';
import { Kafka, logLevel } from 'kafkajs';
import { describe, inject } from 'vitest';

export { until };

const broker = inject('kafka');

/** The brokers of this run, or undefined when the Kafka tests skip. */
export const brokers: string[] | undefined = broker.brokers;

/** `describe` when a broker is available, else `describe.skip` (the reason is printed once per file). */
export const describeKafka: typeof describe = brokers ? describe : (describe.skip as typeof describe);
if (!brokers) console.warn(`Kafka tests skip: ${broker.reason}`);

/** A raw kafkajs client on the run's broker, for setting up and checking from outside riverlog. */
export function rawKafka(clientId = 'riverlog-test'): Kafka {
  if (!brokers) throw new Error('no Kafka broker in this run');
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING });
}

/** A topic name no other test uses. */
export function uniqueTopic(what: string): string {
  return `riverlog-test-${what}-${ulid().toLowerCase()}`;
}

export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: partitions }] });
    // kafkajs's own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which KRaft answers for a moment after creating.
    await until(async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      const found = metadata?.topics.find((t) => t.name === topic)?.partitions ?? [];
      return found.length === partitions && found.every((p) => p.leader >= 0);
    }, `leaders of topic ${topic}`);
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopic(topic: string): Promise<void> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic] });
  } catch {
    // Already gone.
  } finally {
    await admin.disconnect();
  }
}

/** The offset of the last record of each non-empty partition, read from outside riverlog. */
export async function topicHeads(topic: string): Promise<Record<string, string>> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const heads: Record<string, string> = {};
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(high) > BigInt(low)) heads[String(partition)] = (BigInt(high) - 1n).toString();
    }
    return heads;
  } finally {
    await admin.disconnect();
  }
}
