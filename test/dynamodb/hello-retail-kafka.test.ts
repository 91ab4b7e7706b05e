// The Hello Retail views on DynamoDB over a Kafka topic, equal to the same views on SQLite.
import { kafkaLogFromUri } from '@riverlog/kafka';
import { afterEach, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, uniqueTopic } from '../kafka/support.js';
import { playOnDynamoAndCompare } from './hello-retail-compare.js';
import { describeDynamo } from './support.js';

const topics: string[] = [];
afterEach(async () => {
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

describeDynamo('the Hello Retail demo with its views in DynamoDB, on Kafka', () => {
  describeKafka('with a broker', () => {
    it('RIVERLOG_STORE=dynamodb://… over a Kafka topic: every view (and the rebuilt one) equals the same view folded on SQLite, row by row', async () => {
      const topic = uniqueTopic('hello-retail-dynamo');
      topics.push(topic);
      const uri = `kafka://${(brokers ?? []).join(',')}/${topic}?partitions=3`;
      await playOnDynamoAndCompare(uri, () => kafkaLogFromUri(uri));
    });
  });
});
