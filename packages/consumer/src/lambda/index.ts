export type { LambdaHandlerContext, LambdaHandlerOptions } from './batch.js';
export { type KafkaBatchResponse, type KafkaItemIdentifier, kafkaHandler } from './kafka.js';
export { kinesisHandler } from './kinesis.js';
export {
  type KafkaEventOptions,
  type KinesisEventOptions,
  kinesisEvent,
  type LambdaContextOptions,
  type LambdaRecordInput,
  lambdaContext,
  type MskEventOptions,
  mskEvent,
  type RawRecord,
  type SelfManagedKafkaEventOptions,
  selfManagedKafkaEvent,
} from './mapping-events.js';
