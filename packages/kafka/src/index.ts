export type {
  KafkaAdminLike,
  KafkaClientFlavor,
  KafkaClientLike,
  KafkaConsumerLike,
  KafkaLogLevel,
  KafkaProducerLike,
} from './client.js';
export {
  type KafkaCompression,
  type KafkaLog,
  type KafkaLogOptions,
  type KafkaTopicSpec,
  kafkaLog,
} from './kafka-log.js';
export { kafkaPartitionForKey } from './partitioner.js';
export { kafkaLogFromUri, kafkaOptionsFromUri } from './uri.js';
