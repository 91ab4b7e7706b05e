import { backoffPolicy, retryForever } from '@riverlog/core';
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

/** Whether retrying may mend `error` (it, or an error it was caused by, is a transient Kafka error). */
export function isTransient(error: unknown): boolean {
  for (let e = error as { type?: string; name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if ((e.type && TRANSIENT_TYPES.has(e.type)) || (e.name && TRANSIENT_NAMES.has(e.name))) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Short waits: an admin call sits inside a caller's call (partitions(), a read's start). */
const adminBackoff = backoffPolicy({ initialMs: 50, maxMs: 1_000 });

/**
 * The admin client with each call retried on transient errors by core's
 * backoff policy, for up to `budgetMs` per call: kafkajs gives up at once on
 * some of them (e.g. a partition whose leader a KRaft broker is still
 * electing). The call then rejects with the last error; workers above it
 * (consumer, view builder) retry for as long as failures last.
 */
export function retryingAdmin(admin: KafkaAdminLike, budgetMs = 15_000): KafkaAdminLike {
  const retry =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      retryForever(() => call(...args), { policy: adminBackoff, retryable: isTransient, signal: AbortSignal.timeout(budgetMs) });
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
    ...(admin.describeConfigs
      ? { describeConfigs: retry((options) => (admin.describeConfigs as NonNullable<KafkaAdminLike['describeConfigs']>)(options)) }
      : {}),
    ...(admin.deleteGroups
      ? { deleteGroups: retry((groupIds) => (admin.deleteGroups as NonNullable<KafkaAdminLike['deleteGroups']>)(groupIds)) }
      : {}),
  };
}
