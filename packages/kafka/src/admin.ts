import type { KafkaAdminLike } from './client.js';

/** Errors a moment later may cure: leadership moving, a coordinator loading, a broker restarting. */
const TRANSIENT_TYPES = new Set([
  'NOT_LEADER_FOR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
]);
const TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded',
]);

export function isTransient(error: unknown): boolean {
  for (let e = error as { type?: string; name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if ((e.type && TRANSIENT_TYPES.has(e.type)) || (e.name && TRANSIENT_NAMES.has(e.name))) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * The admin client with its calls retried on transient errors for up to
 * `timeoutMs`: kafkajs gives up at once on some of them (e.g. a partition
 * whose leader a KRaft broker is still electing).
 */
export function retryingAdmin(admin: KafkaAdminLike, timeoutMs = 15_000): KafkaAdminLike {
  const retry =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 0; ; attempt++) {
        try {
          return await call(...args);
        } catch (error) {
          if (!isTransient(error) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
        }
      }
    };
  return {
    connect: () => admin.connect(),
    disconnect: () => admin.disconnect(),
    createTopics: retry((options) => admin.createTopics(options)),
    fetchTopicMetadata: retry(async (options) => {
      const answer = await admin.fetchTopicMetadata(options);
      return { topics: Array.isArray(answer) ? answer : answer.topics };
    }),
    fetchTopicOffsets: retry((topic) => admin.fetchTopicOffsets(topic)),
    fetchTopicOffsetsByTimestamp: retry((topic, timestamp) => admin.fetchTopicOffsetsByTimestamp(topic, timestamp)),
    fetchOffsets: retry((options) => admin.fetchOffsets(options)),
    ...(admin.setOffsets
      ? { setOffsets: retry((options) => (admin.setOffsets as NonNullable<KafkaAdminLike['setOffsets']>)(options)) }
      : {}),
    ...(admin.describeConfigs
      ? { describeConfigs: retry((options) => (admin.describeConfigs as NonNullable<KafkaAdminLike['describeConfigs']>)(options)) }
      : {}),
  };
}
