import { kafkaLog } from '@riverlog/kafka';
import { describeEventLogContract } from '@riverlog/testing';
import { brokers, deleteTopic, describeKafka, uniqueTopic } from '../kafka/support.js';

describeKafka('Kafka log on a real broker', () => {
  describeEventLogContract(
    'kafka log, 3 partitions',
    async () => {
      const topic = uniqueTopic('contract');
      const open = async () => kafkaLog({ brokers: brokers ?? [], topic, logLevel: 'nothing' });
      const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions: 3 }, logLevel: 'nothing' });
      return { log, reopen: open, cleanup: () => deleteTopic(topic) };
    },
    { timeoutMs: 20_000 },
  );
});
