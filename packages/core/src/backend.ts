/**
 * `@riverlog/core/backend`: what authors of logs, stores and workers need,
 * and users do not: option and read checks, start positions, waits,
 * lineage readers, partition assignment (leases), time slices, the
 * CloudEvents wire bindings, strict UTF-8, the view stores' shared rules.
 * Users import `@riverlog/core`.
 *
 * @example
 * import { checkReadOptions, decodeUtf8, resolveStart } from '@riverlog/core/backend';
 */
export type { AssignmentHooks, PartitionAssignment } from './assignment.js';
export { LocalAssignment, type LocalAssignmentOptions } from './assignment-local.js';
export { DedupeWindow } from './dedupe-window.js';
export { assertEnvelopeFits, EnvelopeCodec, envelopeText, invalidEnvelope, serializeEnvelope } from './envelope.js';
export { checkFence } from './fence.js';
export { envelopeFromHttp, type HttpWireMessage } from './http-wire.js';
export { encodeIndexKey, fromSortableBytes, sortableBytes } from './index-key.js';
export { preview, readingContext, toIssues } from './issues.js';
export {
  envelopeFromKafkaRecord,
  envelopeToKafkaRecord,
  type KafkaHeaderValue,
  type KafkaRecordText,
  type KafkaWireRecord,
  STRUCTURED_CONTENT_TYPE,
  type StoredEnvelope,
} from './kafka-wire.js';
export {
  decodeKinesisData,
  encodeKinesisAggregate,
  KINESIS_AGGREGATE_MAGIC,
  KINESIS_AGGREGATE_OVERHEAD,
  KinesisAggregateSize,
  type KinesisDataRecord,
  type KinesisUserRecord,
  kinesisAggregateBytes,
} from './kinesis-wire.js';
export { defaultLeaseOwner, LeaseBalancer, type LeaseBalancerOptions } from './lease-balancer.js';
export { type LineageReadOptions, readLineage, readyPartitions } from './lineage.js';
export { checkOptions, closestName } from './options.js';
export {
  type CheckedRead,
  checkReadOptions,
  type PartitionStart,
  type ReadTarget,
  resolveStart,
  sleep,
  waitForChange,
} from './read-helpers.js';
export { type TimeSlice, timeSlice } from './time-slice.js';
export { decodeUtf8, invalidUtf8Offset } from './utf8.js';
export * from './view-rules.js';
