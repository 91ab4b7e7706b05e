// The EventLog contract on Kafka through @confluentinc/kafka-javascript's
// KafkaJS-compatible client instead of kafkajs. Not in the default run: install
// the client (CKJS_LINKING=dynamic npm install --no-save @confluentinc/kafka-javascript)
// and run with RIVERLOG_OPTIONAL_TESTS=1.
import { createRequire } from 'node:module';
import { type KafkaClientLike, kafkaLog } from '@riverlog/kafka';
import { describeEventLogContract } from '@riverlog/testing';
import { describe, expect, it } from 'vitest';
import { brokers, deleteTopic, uniqueTopic } from '../kafka/support.js';

type ConfluentModule = { KafkaJS: { Kafka: new (config: object) => KafkaClientLike; logLevel: { NOTHING: number } } };

function loadConfluent(): ConfluentModule | string {
  try {
    return createRequire(import.meta.url)('@confluentinc/kafka-javascript') as ConfluentModule;
  } catch (error) {
    return `@confluentinc/kafka-javascript is not installed (${(error as Error).message.split('\n')[0]})`;
  }
}

const confluent = loadConfluent();
const skipReason = !brokers ? 'no Kafka broker in this run' : typeof confluent === 'string' ? confluent : undefined;
if (skipReason) console.warn(`Confluent client tests skip: ${skipReason}`);
const describeConfluent = skipReason ? describe.skip : describe;

describeConfluent('Kafka log through @confluentinc/kafka-javascript', () => {
  describeEventLogContract(
    'kafka log (confluent client), 3 partitions',
    async () => {
      const { KafkaJS } = confluent as ConfluentModule;
      const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers ?? [], logLevel: KafkaJS.logLevel.NOTHING } });
      const topic = uniqueTopic('confluent');
      const log = kafkaLog({ kafka, client: 'confluent', topic, createTopic: { partitions: 3 } });
      return { log, reopen: async () => kafkaLog({ kafka, client: 'confluent', topic }), cleanup: () => deleteTopic(topic) };
    },
    { timeoutMs: 30_000 },
  );

  it('refuses consumer groups (subscribe) with a clear error: use createConsumer with leases', async () => {
    const { KafkaJS } = confluent as ConfluentModule;
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: brokers ?? [], logLevel: KafkaJS.logLevel.NOTHING } });
    const topic = uniqueTopic('confluent-group');
    const log = kafkaLog({ kafka, client: 'confluent', topic, createTopic: { partitions: 3 } });
    try {
      await expect(log.subscribe({ group: 'g', onBatch: async () => {} })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
        message: expect.stringContaining('leases'),
      });
    } finally {
      await log.close();
      await deleteTopic(topic);
    }
  });
});
