// The MSK / self-managed Kafka Lambda adapter, fed with records that
// kafkaLog really produced: read back from the broker with a raw kafkajs
// consumer and wrapped in the event shapes Lambda delivers.
import { kafkaHandler } from '@riverlog/consumer/lambda';
import { createEvent, defineCatalog, defineEvent, type Envelope, memoryDeadLetters, type Position, t, ulid } from '@riverlog/core';
import { kafkaLog } from '@riverlog/kafka';
import type { Context, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import type { KafkaMessage } from 'kafkajs';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, rawKafka, uniqueTopic, until } from './support.js';

const catalog = defineCatalog([
  defineEvent('order/place', { data: { order: t.string, seq: t.number } }),
  defineEvent('order/ship', { data: { order: t.string } }),
]);

const topics: string[] = [];
afterEach(async () => {
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

function lambdaContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'orders-consumer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:orders-consumer',
    memoryLimitInMB: '256',
    awsRequestId: ulid(),
    logGroupName: '/aws/lambda/orders-consumer',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Every record of the topic as kafkajs fetches it, with its partition. */
async function fetchAll(topic: string, count: number): Promise<{ partition: number; message: KafkaMessage }[]> {
  const consumer = rawKafka().consumer({ groupId: `lambda-test-${ulid()}`, maxWaitTimeInMs: 200 });
  const fetched: { partition: number; message: KafkaMessage }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        fetched.push({ partition, message });
      },
    });
    await until(() => fetched.length >= count, `${count} records fetched`, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return fetched;
}

/** A fetched record the way Lambda's Kafka event source hands it over: base64 key and value, headers as byte arrays. */
function asLambdaRecord(topic: string, partition: number, message: KafkaMessage): MSKRecord {
  const headers = Object.entries(message.headers ?? {}).map(([name, value]) => ({
    [name]: [...(Buffer.isBuffer(value) ? value : Buffer.from(String(value)))],
  }));
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: 'CREATE_TIME',
    key: (message.key ?? Buffer.alloc(0)).toString('base64'),
    value: (message.value ?? Buffer.alloc(0)).toString('base64'),
    headers,
  };
}

describeKafka('kafkaHandler with records kafkaLog produced', () => {
  it('hands each event to its handler in per-subject order and reports a failing one with the rest of its partition', async () => {
    const topic = uniqueTopic('lambda');
    topics.push(topic);
    const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions: 3 }, logLevel: 'nothing' });
    const events: Envelope[] = [];
    for (let seq = 0; seq < 5; seq++) {
      for (const order of ['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']) {
        events.push(createEvent(catalog, 'order/place', order, { order, seq }, { source: 'shop' }));
      }
    }
    const shipped = createEvent(catalog, 'order/ship', 'o-6', { order: 'o-6' }, { source: 'shop' });
    events.push(shipped);
    const positions = await log.append(events);
    await log.close();
    const fetched = await fetchAll(topic, events.length);

    const records: MSKEvent['records'] = {};
    for (const { partition, message } of fetched) {
      const key = `${topic}-${partition}`;
      records[key] ??= [];
      records[key].push(asLambdaRecord(topic, partition, message));
    }
    const msk: MSKEvent = {
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:eu-west-1:1:cluster/c/1',
      bootstrapServers: 'b-1:9092',
      records,
    };
    const selfManaged: SelfManagedKafkaEvent = { eventSource: 'SelfManagedKafka', bootstrapServers: (brokers ?? []).join(','), records };

    const seen: { order: string; seq: number; position: Position }[] = [];
    const deadLetters = memoryDeadLetters();
    const handler = kafkaHandler({
      catalog,
      deadLetters,
      retry: { attempts: 1 },
      handlers: {
        'order/place': async (event, { position }) => {
          seen.push({ order: event.data.order, seq: event.data.seq, position });
        },
        'order/ship': async () => {
          throw new Error('shipping service down');
        },
      },
    });

    // MSK: everything handled but the failing shipment, which is reported with what follows it in its partition (nothing).
    const mskResponse = await handler(msk, lambdaContext());
    const shippedAt = positions[positions.length - 1] as Position;
    expect(mskResponse.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${topic}-${shippedAt.partition}`, offset: Number(shippedAt.offset) } },
    ]);
    expect(seen).toHaveLength(30);
    const expected = new Map(events.map((event, i) => [event.id, positions[i] as Position]));
    for (const entry of seen) {
      const event = events.find(
        (e) => (e.data as { order: string; seq: number }).order === entry.order && (e.data as { seq: number }).seq === entry.seq,
      );
      const at = expected.get(event?.id ?? '') as Position;
      expect(entry.position).toEqual({ partition: `${topic}-${at.partition}`, offset: at.offset });
    }
    for (const order of ['o-1', 'o-2', 'o-3', 'o-4', 'o-5', 'o-6']) {
      expect(
        seen.filter((s) => s.order === order).map((s) => s.seq),
        `order of ${order}`,
      ).toEqual([0, 1, 2, 3, 4]);
    }
    expect(deadLetters.letters).toEqual([]);

    // Self-managed Kafka: the same records, the same outcome.
    seen.length = 0;
    const selfResponse = await handler(selfManaged, lambdaContext());
    expect(selfResponse).toEqual(mskResponse);
    expect(seen).toHaveLength(30);
  });
});
