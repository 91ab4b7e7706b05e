export {
  AppendNotAttemptedError,
  createProducer,
  type EmitItem,
  type Emitted,
  type Producer,
  type ProducerOptions,
} from './producer.js';
