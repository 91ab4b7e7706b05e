/** io-ts, re-exported so catalogs need no second import. */
export * as t from 'io-ts';
export type { AssignmentHooks, PartitionAssignment } from './assignment.js';
export { LocalAssignment, type LocalAssignmentOptions } from './assignment-local.js';
export {
  type BackoffOptions,
  type BackoffPolicy,
  backoffPolicy,
  defaultBackoff,
  type RetryForeverOptions,
  type RetryReport,
  retryForever,
} from './backoff.js';
export * from './catalog.js';
export * from './envelope.js';
export * from './errors.js';
export * from './history.js';
export { envelopeFromHttp, type HttpWireMessage } from './http-wire.js';
export { encodeIndexKey } from './index-key.js';
export { type OptionalC, optional, preview, type StrictC, type StrictOutput, type StrictType, strict, toIssues } from './issues.js';
export {
  envelopeFromKafkaRecord,
  envelopeToKafkaRecord,
  type KafkaHeaderValue,
  type KafkaRecordText,
  type KafkaWireRecord,
  STRUCTURED_CONTENT_TYPE,
  type StoredEnvelope,
} from './kafka-wire.js';
export { defaultLeaseOwner, LeaseBalancer, type LeaseBalancerOptions } from './lease-balancer.js';
export { type LineageReadOptions, readEnds, readLineage, readyPartitions } from './lineage.js';
export { memoryCheckpointStore } from './memory/checkpoints.js';
export { memoryDeadLetters } from './memory/dead-letters.js';
export { memoryLeaseStore } from './memory/leases.js';
export { type MemoryLog, type MemoryLogOptions, memoryLog } from './memory/memory-log.js';
export { type MemoryViewStoreOptions, memoryViewStore } from './memory/view-store.js';
export { checkOptions, closestName } from './options.js';
export * from './ports.js';
export * from './position.js';
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
export { ulid, ulidTime } from './ulid.js';
export { decodeUtf8, invalidUtf8Offset } from './utf8.js';
export * from './view-rules.js';
