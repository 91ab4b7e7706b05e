export { ignore } from '@riverlog/core';
export { type Classified, classifyRecord, DeadLetterCodes } from './classify.js';
export { createConsumer } from './consumer.js';
export { deadLetterCatalog, deadLetterEvent, type LogDeadLettersOptions, logDeadLetters } from './dead-letters.js';
export type {
  CaughtUpOptions,
  CheckpointPolicy,
  Consumer,
  ConsumerHandlers,
  ConsumerHooks,
  ConsumerOptions,
  ConsumerStatus,
  ErrorStage,
  HandlerContext,
  HandlerRetry,
  HandlerRetryOptions,
  LeaseOptions,
  PartitionStatus,
  PartitionStopReason,
  RetryInfo,
  RetryStatus,
  TransientRetry,
} from './types.js';
