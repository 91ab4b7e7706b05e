// Reading a Kafka log on a real broker: what a read leaves on the broker,
// where it says it stands, and records riverlog did not write.
import { createEvent, defineCatalog, defineEvent, type Envelope, type ReadBatch, t, ulid } from '@riverlog/core';
import { type KafkaLog, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, rawKafka, uniqueTopic } from './support.js';

const Noted = defineEvent('test/noted', { data: { n: t.number } });
const catalog = defineCatalog([Noted]);
const noted = (n: number, subject = `s-${n % 7}`): Envelope => createEvent(catalog, 'test/noted', subject, { n }, { source: 'test' });

const opened: KafkaLog[] = [];
const topics: string[] = [];
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

function open(partitions: number, readGroupPrefix?: string): KafkaLog {
  const topic = uniqueTopic('read');
  topics.push(topic);
  const log = kafkaLog({
    brokers: brokers ?? [],
    topic,
    createTopic: { partitions },
    logLevel: 'nothing',
    ...(readGroupPrefix ? { readGroupPrefix } : {}),
  });
  opened.push(log);
  return log;
}

async function groupsNamed(prefix: string): Promise<string[]> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    return groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  } finally {
    await admin.disconnect();
  }
}

async function readAll(log: KafkaLog, options: Parameters<KafkaLog['read']>[0] = {}): Promise<ReadBatch[]> {
  const batches: ReadBatch[] = [];
  for await (const batch of log.read(options)) batches.push(batch);
  return batches;
}

describeKafka('reading a Kafka log', () => {
  it('leaves no consumer group on the broker: finished reads, a read broken off, a following read aborted', async () => {
    const prefix = `riverlog-read-test-${ulid().toLowerCase()}-`;
    const log = open(3, prefix);
    await log.append(Array.from({ length: 30 }, (_, i) => noted(i)));
    await readAll(log);
    await readAll(log, { types: ['test/noted'], batchSize: 4 });
    for await (const batch of log.read()) {
      if (batch.records.length > 0) break;
    }
    const controller = new AbortController();
    for await (const batch of log.read({ follow: true, signal: controller.signal })) {
      if (batch.caughtUp) controller.abort();
    }
    expect(await groupsNamed(prefix)).toEqual([]);
  });

  it('says where it stands: lag in records from the high watermark, caught up at the end, an empty caught-up batch for an empty partition', async () => {
    const log = open(2);
    // One subject, so one partition holds everything and the other stays empty.
    const [first] = await log.append(Array.from({ length: 10 }, (_, i) => noted(i, 'a')));
    const partition = (first as { partition: string }).partition;
    const other = partition === '0' ? '1' : '0';

    const batches = await readAll(log, { batchSize: 4 });
    const ofOther = batches.filter((b) => b.partition === other);
    expect(ofOther).toEqual([{ partition: other, records: [], caughtUp: true, ended: false, lag: { records: 0 } }]);
    const ofFull = batches.filter((b) => b.partition === partition);
    expect(ofFull.map((b) => b.records.length)).toEqual([4, 4, 2]);
    expect(ofFull.map((b) => b.lag)).toEqual([{ records: 6 }, { records: 2 }, { records: 0 }]);
    expect(ofFull.map((b) => b.caughtUp)).toEqual([false, false, true]);
    expect(batches.every((b) => b.ended === false)).toBe(true);

    // From the latest: one empty caught-up batch per partition, nothing else.
    const latest = await readAll(log, { from: 'latest' });
    expect(latest.map((b) => [b.partition, b.records.length, b.caughtUp]).sort()).toEqual([
      ['0', 0, true],
      ['1', 0, true],
    ]);
    expect(await log.partitions()).toEqual([
      { id: '0', parents: [], closed: false },
      { id: '1', parents: [], closed: false },
    ]);
  });

  it('reads a value that is not valid UTF-8 as a record with no event, its raw text and the reason', async () => {
    const log = open(1);
    const good = noted(1, 'a');
    const bad = Buffer.concat([Buffer.from('{"specversion":"1.0","id":"x","data":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    await log.partitions(); // creates the topic
    const producer = rawKafka().producer();
    await producer.connect();
    try {
      await producer.send({
        topic: log.topic,
        messages: [
          { key: 'x', value: bad },
          { key: 'a', value: JSON.stringify(good) },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const records = (await readAll(log)).flatMap((b) => b.records);
    expect(records).toHaveLength(2);
    const [first, second] = records;
    expect(first?.event).toBeUndefined();
    expect(first?.error).toMatch(/UTF-8/);
    expect(first?.raw).toContain('"specversion":"1.0"');
    expect(second?.event).toEqual(good);
  });
});
