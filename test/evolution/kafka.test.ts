// The evolution tests on a real Kafka broker: consumer groups are Kafka's own (their checkpoint in the
// group offsets), views in a SQLite store.
import { kafkaLog, kafkaPartitionForKey } from '@riverlog/kafka';
import { brokers, createTopic, deleteTopic, describeKafka, uniqueTopic } from '../kafka/support.js';
import { describeEvolution, describeRename } from './suite.js';
import { type Backend, openWorld } from './support.js';

const kafkaBackend: Backend = {
  name: 'Kafka log',
  open: (partitions) =>
    openWorld(partitions, async () => {
      const topic = uniqueTopic('evolution');
      await createTopic(topic, partitions);
      const open = () =>
        kafkaLog({ brokers: brokers ?? [], topic, logLevel: 'nothing', consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 } });
      return {
        producerLog: open(),
        readerLog: open(),
        partitionOf: (subject) => String(kafkaPartitionForKey(subject, partitions)),
        checkpoints: false,
        cleanup: () => deleteTopic(topic),
      };
    }),
};

describeKafka('evolution on Kafka', () => {
  describeEvolution(kafkaBackend);
  describeRename(kafkaBackend);
});
