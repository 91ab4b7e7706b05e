export type { LambdaHandlerContext, LambdaHandlerOptions } from './batch.js';
export { type KafkaBatchResponse, type KafkaItemIdentifier, kafkaHandler } from './kafka.js';
export { kinesisHandler } from './kinesis.js';
