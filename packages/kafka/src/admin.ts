import { backoffPolicy, ClosedError, retryForever } from '@riverlog/core';
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

/**
 * Whether trying again may mend `error`: a transient error (above), or one the
 * client marks retriable (a kafkajs error's `retriable`, e.g. the
 * UNKNOWN_TOPIC_OR_PARTITION a broker answers for a moment after a topic was
 * created or after it restarted), itself or an error it was caused by.
 */
export function isRetriable(error: unknown): boolean {
  if (isTransient(error)) return true;
  for (let e = error as { retriable?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.retriable === true) return true;
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
 * (consumer, view builder) retry for as long as failures last. Once
 * disconnected it refuses every call with `CLOSED` (and stops retrying the
 * calls under way): a kafkajs admin would otherwise connect again by itself
 * and keep its process alive.
 */
export function retryingAdmin(admin: KafkaAdminLike, what: string, budgetMs = 15_000): KafkaAdminLike {
  let disconnected = false;
  const attempt = <R>(call: () => Promise<R>): Promise<R> => {
    if (disconnected) return Promise.reject(new ClosedError(what));
    return call();
  };
  const retryable = (error: unknown) => !disconnected && isTransient(error);
  const retry =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      retryForever(() => attempt(() => call(...args)), { policy: adminBackoff, retryable, signal: AbortSignal.timeout(budgetMs) });
  return {
    connect: () => attempt(() => admin.connect()),
    disconnect: () => {
      disconnected = true;
      return admin.disconnect();
    },
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
