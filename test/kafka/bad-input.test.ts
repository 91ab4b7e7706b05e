// Records that riverlog did not write, put on the topic by a raw kafkajs
// producer: the broken ones (invalid UTF-8 included) land in a dead-letter
// topic with their reasons, the good ones (structured or binary mode) are
// handled, and the partition keeps moving.
import { type Consumer, createConsumer, deadLetterCatalog, logDeadLetters } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, type Envelope, type LogRecord, t } from '@riverlog/core';
import { type KafkaLog, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, rawKafka, uniqueTopic } from './support.js';

const ProductCreated = defineEvent('product/create', { data: { id: t.string, name: t.string } });
const catalog = defineCatalog([ProductCreated]);
const structured = { 'content-type': 'application/cloudevents+json; charset=UTF-8' };

const opened: { close(): Promise<unknown> }[] = [];
const topics: string[] = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

function open(topic: string, partitions: number): KafkaLog {
  topics.push(topic);
  const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions }, logLevel: 'nothing' });
  opened.push(log);
  return log;
}

describeKafka('bad input written by a raw kafkajs producer', () => {
  it('dead-letters invalid JSON, a wrong schema, missing attributes, a non-envelope and an unknown type; handles the rest; moves on', async () => {
    const log = open(uniqueTopic('bad-input'), 1);
    const deadLetterLog = open(uniqueTopic('bad-input-dlq'), 1);
    await log.partitions();
    await deadLetterLog.partitions();
    const good = (id: string) => createEvent(catalog, 'product/create', id, { id, name: `Boot ${id}` }, { source: 'test' });
    const first = good('p-1');
    const unknown = { ...good('p-2'), type: 'product/teleported', dataschema: 'product/teleported@1' };
    const wrongSchema = { ...good('p-3'), data: { id: 'p-3', name: 42 } };
    const binaryGood = good('p-4');
    const last = good('p-5');

    const producer = rawKafka().producer();
    await producer.connect();
    try {
      await producer.send({
        topic: log.topic,
        messages: [
          { key: 'p-1', value: JSON.stringify(first), headers: structured },
          { key: 'x', value: '{"specversion":"1.0", "id": ', headers: structured },
          { key: 'p-3', value: JSON.stringify(wrongSchema), headers: structured },
          // Binary mode with attributes missing: no ce_id, no ce_type.
          {
            key: 'x',
            value: JSON.stringify({ id: 'p-9' }),
            headers: { ce_specversion: '1.0', ce_source: 'raw', 'content-type': 'application/json' },
          },
          // No headers, and JSON that is no envelope at all.
          { key: 'x', value: JSON.stringify({ hello: 'world' }) },
          { key: 'p-2', value: JSON.stringify(unknown), headers: structured },
          // A good event in binary mode: every attribute a ce_ header, the data as the value.
          {
            key: 'p-4',
            value: JSON.stringify(binaryGood.data),
            headers: {
              ce_specversion: '1.0',
              ce_id: binaryGood.id,
              ce_type: binaryGood.type,
              ce_source: binaryGood.source,
              ce_subject: binaryGood.subject,
              ce_time: binaryGood.time,
              ce_dataschema: binaryGood.dataschema,
              'content-type': 'application/json',
            },
          },
          // A tombstone.
          { key: 'x', value: null },
          // A good event without the content-type header: still structured JSON.
          { key: 'p-5', value: JSON.stringify(last) },
          // Bytes that are not UTF-8 inside a JSON string.
          { key: 'x', value: Buffer.concat([Buffer.from('{"specversion":"1.0","id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    const handled: string[] = [];
    const consumer: Consumer = createConsumer({
      log,
      catalog,
      group: 'bad-input',
      deadLetters: logDeadLetters(deadLetterLog),
      // Events this catalog cannot read (a wrong schema) go to the dead letter too, instead of stopping the partition.
      onUnreadable: 'dead-letter',
      handlers: {
        'product/create': async (event) => {
          handled.push(event.data.id);
        },
      },
    });
    opened.push({ close: () => consumer.stop() });
    await consumer.start();
    await consumer.caughtUp();
    expect(handled).toEqual(['p-1', 'p-4', 'p-5']);
    await consumer.stop();
    // The partition moved past everything: the group's one checkpoint, its Kafka offset, is after the last record.
    const admin = rawKafka().admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: 'bad-input', topics: [log.topic] });
    await admin.disconnect();
    expect(committed?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '10' })]);

    // caughtUp() resolved: every dead letter was acknowledged by the dead-letter topic, so one read sees them all.
    const letters: LogRecord[] = [];
    for await (const batch of deadLetterLog.read()) letters.push(...batch.records);
    expect(letters).toHaveLength(7);
    const byOffset = new Map(
      letters.map((record) => {
        const decoded = deadLetterCatalog.decode(record.event);
        if (decoded._tag === 'Left') throw decoded.left;
        return [decoded.right.data.offset, decoded.right.data] as const;
      }),
    );
    expect([...byOffset.keys()].sort()).toEqual(['1', '2', '3', '4', '5', '7', '9']);
    expect(byOffset.get('1')).toMatchObject({ code: 'DECODE_FAILED', group: 'bad-input', partition: '0', event: null });
    expect(byOffset.get('1')?.reason).toMatch(/not JSON/);
    expect(byOffset.get('1')?.raw).toBe('{"specversion":"1.0", "id": ');
    expect(byOffset.get('2')).toMatchObject({ code: 'DECODE_FAILED' });
    expect(byOffset.get('2')?.reason).toContain('data.name: expected string, got 42');
    expect(byOffset.get('3')).toMatchObject({ code: 'DECODE_FAILED' });
    expect(byOffset.get('3')?.reason).toMatch(/\bid\b/);
    expect(byOffset.get('3')?.reason).toMatch(/\btype\b/);
    expect(byOffset.get('4')).toMatchObject({ code: 'DECODE_FAILED' });
    expect(byOffset.get('4')?.reason).toMatch(/specversion/);
    expect(byOffset.get('5')).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE' });
    expect(byOffset.get('5')?.reason).toContain('product/teleported');
    expect(byOffset.get('7')).toMatchObject({ code: 'DECODE_FAILED' });
    expect(byOffset.get('7')?.reason).toMatch(/no value|tombstone/);
    expect((byOffset.get('2')?.event as Envelope).id).toBe(wrongSchema.id);
    expect(byOffset.get('9')).toMatchObject({ code: 'DECODE_FAILED', event: null });
    expect(byOffset.get('9')?.reason).toMatch(/UTF-8/);
  });
});
