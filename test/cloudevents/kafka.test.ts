// Issue 9, finding 2, on a real Kafka broker, judged by the official CloudEvents SDK (cloudevents 10):
// the records riverlog puts on a topic (the Kafka log's structured records, core's binary form, the
// dead-letter topic) pass the SDK as stored; the records the SDK makes (binary and structured), sent
// raw with kafkajs, are read by a consumer and a replay on the Kafka log.

import { createConsumer, logDeadLetters } from '@riverlog/consumer';
import { type DeadLetterSink, type Envelope, type EventLog, memoryDeadLetters } from '@riverlog/core';
import { envelopeToKafkaRecord } from '@riverlog/core/backend';
import { kafkaLog } from '@riverlog/kafka';
import { createProducer } from '@riverlog/producer';
import { replay } from '@riverlog/view-builder';
import { CloudEvent, Kafka } from 'cloudevents';
import type { KafkaMessage } from 'kafkajs';
import { afterEach, expect, it } from 'vitest';
import { brokers, createTopic, deleteTopic, describeKafka, rawKafka, uniqueTopic, until } from '../kafka/support.js';
import { catalog, expectSdkAccepts, sampleEvents, sdkKafkaMessage, source, troubleEvents } from './support.js';

const topics: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

async function topic(what: string, partitions = 2): Promise<string> {
  const name = uniqueTopic(`cloudevents-${what}`);
  await createTopic(name, partitions);
  topics.push(name);
  return name;
}

function logOn(name: string): EventLog {
  const log = kafkaLog({
    brokers: brokers ?? [],
    topic: name,
    logLevel: 'nothing',
    consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 },
  });
  closers.push(() => log.close());
  return log;
}

/** The first `count` records of a topic as kafkajs hands them over: bytes, as stored. */
async function rawRecords(name: string, count: number): Promise<KafkaMessage[]> {
  const records: KafkaMessage[] = [];
  const groupId = `raw-${name}`;
  const consumer = rawKafka().consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        records.push(message);
      },
    });
    await until(() => records.length >= count, `${count} records on ${name}`, 30_000);
  } finally {
    await consumer.disconnect();
  }
  const admin = rawKafka().admin();
  await admin.connect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.disconnect();
  expect(records).toHaveLength(count);
  return records;
}

/** Sends records to a topic with kafkajs, as any other program would. */
async function sendRaw(
  name: string,
  messages: { key?: string | null; value: string | Buffer | null; headers?: Record<string, string>; timestamp?: string }[],
): Promise<void> {
  const producer = rawKafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic: name, messages });
  } finally {
    await producer.disconnect();
  }
}

/** The SDK's reading of a record as stored: it must find a CloudEvent, and that event must validate. */
function sdkReads(message: KafkaMessage, where: string): CloudEvent<unknown> {
  const event = Kafka.toEvent(sdkKafkaMessage(message)) as CloudEvent<unknown>;
  expect(event.validate(), where).toBe(true);
  // And as a structured event on its own, in strict mode.
  expectSdkAccepts({ ...event, partitionkey: undefined }, where);
  return event;
}

describeKafka('CloudEvents on Kafka, judged by the SDK', () => {
  it("what riverlog writes to a topic — the Kafka log's structured records and core's binary form — passes the SDK as stored", async () => {
    const name = await topic('written');
    const log = logOn(name);
    const made = sampleEvents(['p1', 'p2']);
    await log.append(made);
    const producer = createProducer({ log, catalog, source });
    const { id: emittedId } = await producer.emit(
      'product/create',
      'p3',
      { id: 'p3', name: 'Sandal', brand: 'Zed' },
      { correlationid: 'c-3' },
    );
    await producer.close();
    // core's binary form, sent by another client: what a user sends who wants binary mode on the topic.
    const binaryEvents = sampleEvents(['b1']);
    const binary = binaryEvents.map((event) => envelopeToKafkaRecord(event, 'binary'));
    await sendRaw(name, binary);

    const records = await rawRecords(name, made.length + 1 + binary.length);
    const originals = new Map([...made, ...binaryEvents].map((e) => [e.id, e]));
    const seen = new Set<string>();
    for (const [i, record] of records.entries()) {
      const event = sdkReads(record, `record ${i} (${record.headers?.['content-type']})`);
      seen.add(event.id);
      const original = originals.get(event.id);
      if (!original) {
        expect(event.id).toBe(emittedId);
        continue;
      }
      expect(event).toMatchObject({
        type: original.type,
        subject: original.subject,
        dataschema: original.dataschema,
        source: original.source,
      });
      expect(event.data).toEqual(original.data);
      expect(record.key?.toString()).toBe(original.subject);
    }
    expect(seen.has(emittedId)).toBe(true);
    expect(records.filter((r) => r.headers?.ce_specversion !== undefined)).toHaveLength(binary.length);

    // And riverlog reads both forms back.
    const read: Envelope[] = [];
    await replay({ log, catalog, into: (event) => void read.push(event) });
    expect(read.map((e) => e.id).sort()).toEqual([...seen].sort());
  });

  it('the dead letters a consumer sends to a dead-letter topic pass the SDK as stored, whatever the record was', async () => {
    const name = await topic('troubles', 1);
    const deadName = await topic('dead-letters', 1);
    const log = logOn(name);
    const { good, newer, unknownType } = troubleEvents();
    await log.append([good, newer, unknownType]);
    await sendRaw(name, [
      { key: 'x', value: '{not json' },
      { key: 'x', value: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]) }, // invalid UTF-8
      { key: 'x', value: null }, // a tombstone
      {
        key: 'x',
        value: '{"ce":"no"}',
        headers: { ce_specversion: '1.0', ce_id: 'bin', ce_type: 'product/price', ce_source: 's', 'content-type': 'text/plain' },
      },
    ]);
    const memory = memoryDeadLetters();
    const toTopic = logDeadLetters(logOn(deadName));
    const both: DeadLetterSink = {
      async send(letters) {
        await memory.send(letters);
        await toTopic.send(letters);
      },
    };
    const consumer = createConsumer({
      log,
      catalog,
      group: uniqueTopic('group'),
      deadLetters: both,
      onUnreadable: 'dead-letter',
      handlers: { 'product/create': () => {}, 'product/price': () => {} },
    });
    await consumer.start();
    closers.push(() => consumer.stop());
    await consumer.caughtUp({ timeoutMs: 30_000 });
    expect(memory.letters.map((l) => l.code).sort()).toEqual([
      'DECODE_FAILED',
      'DECODE_FAILED',
      'DECODE_FAILED',
      'DECODE_FAILED',
      'UNKNOWN_EVENT_TYPE',
      'UNREADABLE_VERSION',
    ]);
    const records = await rawRecords(deadName, memory.letters.length);
    for (const [i, record] of records.entries()) {
      const event = sdkReads(record, `dead letter ${i}`);
      expect(event).toMatchObject({ type: 'riverlog/dead-letter', source: 'riverlog/consumer' });
    }
  });

  it('records the SDK makes, binary and structured, sent raw with kafkajs: a consumer and a replay on the Kafka log see them decoded', async () => {
    const name = await topic('sdk');
    const data = { id: 'p1', name: 'Bottes « cuir » 🥾', brand: 'Acme' };
    const events = (mode: string): CloudEvent<unknown>[] => [
      new CloudEvent({
        id: `${mode}-current`,
        type: 'product/create',
        source: 'https://shop.example/web',
        subject: 'p1',
        dataschema: catalog.dataschema('product/create'),
        data,
      }),
      new CloudEvent({
        id: `${mode}-older`,
        type: 'product/create',
        source: 'https://shop.example/legacy',
        subject: 'p2',
        dataschema: 'https://schemas.shop.example/events/product/create/v1',
        data: { id: 'p2', name: 'Hat' },
      }),
      new CloudEvent({
        id: `${mode}-bare`,
        type: 'product/price',
        source: 'shop',
        subject: 'p1',
        partitionkey: 'p1',
        data: { id: 'p1', cents: 1999, tags: ['é'] },
      }),
    ];
    // Binary mode without ce_subject: riverlog takes the subject from the key (the SDK's partitionkey).
    const keyed = new CloudEvent<unknown>({
      id: 'binary-keyed',
      type: 'product/price',
      source: 'shop',
      partitionkey: 'p7',
      data: { id: 'p7', cents: 7, tags: [] },
    });
    const asSent = (message: { key?: unknown; value?: unknown; headers: Record<string, unknown>; timestamp?: string }) => ({
      key: typeof message.key === 'string' ? message.key : null,
      value: typeof message.value === 'string' ? message.value : JSON.stringify(message.value),
      headers: Object.fromEntries(Object.entries(message.headers).filter(([, v]) => v !== undefined)) as Record<string, string>,
      timestamp: message.timestamp,
    });
    const sent = [...events('binary'), keyed];
    const structured = events('structured');
    await sendRaw(name, [...sent.map((e) => asSent(Kafka.binary(e))), ...structured.map((e) => asSent(Kafka.structured(e)))]);
    sent.push(...structured);

    const log = logOn(name);
    const handled: Envelope[] = [];
    const deadLetters = memoryDeadLetters();
    const consumer = createConsumer({
      log,
      catalog,
      group: uniqueTopic('group'),
      deadLetters,
      handlers: { 'product/create': (event) => void handled.push(event), 'product/price': (event) => void handled.push(event) },
    });
    await consumer.start();
    closers.push(() => consumer.stop());
    await consumer.caughtUp({ timeoutMs: 30_000 });
    expect(deadLetters.letters.map((l) => `${l.code}: ${l.reason}`)).toEqual([]);

    // At-least-once: a Kafka group that restarts (e.g. its coordinator still loading) may deliver an event again.
    const byId = <E extends { id: string }>(list: readonly E[]): E[] =>
      [...new Map(list.map((e) => [e.id, e] as const)).values()].sort((a, b) => a.id.localeCompare(b.id));
    expect(
      byId(handled).map((e) => ({
        id: e.id,
        type: e.type,
        source: e.source,
        subject: e.subject,
        time: e.time,
        dataschema: e.dataschema,
        data: e.data,
      })),
    ).toEqual(
      byId(sent).map((e) => ({
        id: e.id,
        type: e.type,
        source: e.source,
        subject: e.subject ?? e.partitionkey,
        time: e.time,
        dataschema: catalog.dataschema(e.type as 'product/create'),
        data: e.id.endsWith('-older') ? { ...(e.data as object), brand: 'unknown' } : e.data,
      })),
    );
    const replayed: Envelope[] = [];
    await replay({ log, catalog, into: (event) => void replayed.push(event) });
    expect(byId(replayed)).toEqual(byId(handled));
  });
});
