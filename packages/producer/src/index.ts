export { createProducer, type EmitItem, type Producer, type ProducerOptions } from './producer.js';
