import { kafkaLog } from '@riverlog/kafka';
import { describeConsumerContract } from '@riverlog/testing';
import { brokers, deleteTopic, describeKafka, uniqueTopic } from '../kafka/support.js';

describeKafka('createConsumer on a real Kafka broker (the log runs the consumer group)', () => {
  describeConsumerContract(
    'kafka log, 3 partitions, the checkpoint in the group offsets',
    async () => {
      const topic = uniqueTopic('consumer');
      const log = kafkaLog({
        brokers: brokers ?? [],
        topic,
        createTopic: { partitions: 3 },
        logLevel: 'nothing',
        consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 },
      });
      return { log, cleanup: () => deleteTopic(topic) };
    },
    { timeoutMs: 30_000 },
  );
});
