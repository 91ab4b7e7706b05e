export { KinesisAppendError, type KinesisAppendOutcome } from './appender.js';
export type { FanOutOptions } from './fan-out.js';
export {
  KINESIS_ROLE_ACTIONS,
  type KinesisPolicyOptions,
  type KinesisRole,
  kinesisPolicy,
  type PolicyDocument,
  type PolicyStatement,
} from './iam.js';
export { type KinesisLog, type KinesisLogOptions, type KinesisStreamSpec, kinesisLog, type ReadLimits } from './kinesis-log.js';
export { kinesisLogFromUri, kinesisOptionsFromUri } from './uri.js';
