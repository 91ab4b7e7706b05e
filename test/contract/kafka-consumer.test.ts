import { kafkaCheckpoints, kafkaLog } from '@riverlog/kafka';
import { describeConsumerContract } from '@riverlog/testing';
import { brokers, deleteTopic, describeKafka, uniqueTopic } from '../kafka/support.js';

describeKafka('createConsumer on a real Kafka broker (the log runs the consumer group)', () => {
  describeConsumerContract(
    'kafka log, 3 partitions, checkpoints in the group offsets',
    async () => {
      const topic = uniqueTopic('consumer');
      const log = await kafkaLog({
        brokers: brokers ?? [],
        topic,
        createTopic: { partitions: 3 },
        logLevel: 'nothing',
        consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 },
      });
      return { log, checkpoints: kafkaCheckpoints(log), cleanup: () => deleteTopic(topic) };
    },
    { timeoutMs: 30_000 },
  );
});
