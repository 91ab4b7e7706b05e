/**
 * `@riverlog/core`: the user's API. The catalog, writing events with it
 * (`createEvent`, `validateEvent`) and envelopes, errors, the
 * ports (as types), positions, the memory implementations, the one backoff
 * policy, ids and history files, `readEnds` (where a log ends now). Helpers for authors of logs, stores and
 * workers are in `@riverlog/core/backend`.
 *
 * @example
 * import { defineCatalog, defineEvent, memoryLog, t } from '@riverlog/core';
 */
/** io-ts, re-exported so catalogs need no second import. */
export * as t from 'io-ts';
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
export { createEvent, validateEvent } from './create-event.js';
export { type Envelope, type EventMeta, envelopeBytes, type RecordedEvent, type StoredEvent } from './envelope.js';
export * from './errors.js';
export * from './history.js';
export { type OptionalC, optional, type StrictC, type StrictOutput, type StrictType, strict } from './issues.js';
export { readEnds } from './lineage.js';
export { memoryCheckpointStore } from './memory/checkpoints.js';
export { memoryDeadLetters } from './memory/dead-letters.js';
export { memoryLeaseStore } from './memory/leases.js';
export { type MemoryLog, type MemoryLogOptions, memoryLog } from './memory/memory-log.js';
export { type MemoryViewStoreOptions, memoryViewStore } from './memory/view-store.js';
export * from './ports.js';
export * from './position.js';
export { ulid, ulidTime } from './ulid.js';
