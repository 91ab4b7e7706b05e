// kafkaLog's consumer groups (GroupSubscribable) on a real broker.
import { defineCatalog, defineEvent, type Envelope, type LogRecord, t } from '@riverlog/core';
import { type KafkaLog, kafkaCheckpoints, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, uniqueTopic, until } from './support.js';

const Noted = defineEvent('test/noted', { data: { n: t.number } });
const Other = defineEvent('test/other', { data: { n: t.number } });
const catalog = defineCatalog([Noted, Other]);
const noted = (n: number, subject = `s-${n % 17}`): Envelope => catalog.create('test/noted', subject, { n }, { source: 'test' });

const opened: KafkaLog[] = [];
const topics: string[] = [];
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

async function openLog(topic: string, create = false): Promise<KafkaLog> {
  const log = await kafkaLog({
    brokers: brokers ?? [],
    topic,
    logLevel: 'nothing',
    ...(create ? { createTopic: { partitions: 3 } } : {}),
    consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 },
    onError: () => {},
  });
  opened.push(log);
  return log;
}

async function freshTopic(what: string): Promise<{ topic: string; log: KafkaLog }> {
  const topic = uniqueTopic(what);
  topics.push(topic);
  return { topic, log: await openLog(topic, true) };
}

const key = (r: LogRecord) => `${r.position.partition}/${r.position.offset}`;

describeKafka('kafkaLog consumer groups', () => {
  it('shares the partitions between two members; every record is handled once and the group offsets end at the heads', async () => {
    const { topic, log } = await freshTopic('group');
    const other = await openLog(topic);
    await log.append(Array.from({ length: 300 }, (_, i) => noted(i)));
    const seen: string[] = [];
    const assigned = new Map<string, string[]>();
    const member = (name: string, on: KafkaLog) =>
      on.subscribe({
        group: 'g1',
        onAssigned: (partitions) => assigned.set(name, [...(assigned.get(name) ?? []), ...partitions]),
        onBatch: async (batch) => {
          for (const record of batch) seen.push(key(record));
        },
      });
    const first = await member('a', log);
    const second = await member('b', other);
    await log.append(Array.from({ length: 300 }, (_, i) => noted(300 + i)));
    await until(() => seen.length >= 600, '600 records handled', 30_000);
    expect(new Set(seen).size).toBe(600);
    expect(seen.length).toBe(600);
    await until(() => (assigned.get('b')?.length ?? 0) > 0, 'the second member to get partitions', 30_000);
    await second.stop();
    await first.stop();
    const offsets = await kafkaCheckpoints(log).load('g1');
    expect(offsets).toEqual(await log.heads());
  });

  it('resumes after an external checkpoint (startAfter), behind or ahead of the group offset', async () => {
    const { log } = await freshTopic('start-after');
    const positions = await log.append(Array.from({ length: 60 }, (_, i) => noted(i)));
    const heads = await log.heads();
    const partitions = Object.keys(heads);
    const checkpoints = kafkaCheckpoints(log);
    // The group's own offset: at the heads of every partition.
    await checkpoints.save('g2', heads);
    // The view's checkpoint: the first record of each partition.
    const external: Record<string, string> = {};
    for (const p of partitions) external[p] = '0';
    const seen: LogRecord[] = [];
    const sub = await log.subscribe({
      group: 'g2',
      startAfter: async (partition) => external[partition],
      onBatch: async (batch) => {
        seen.push(...batch);
      },
    });
    const expected = positions.filter((p) => p.offset !== '0').map((p) => `${p.partition}/${p.offset}`);
    await until(() => seen.length >= expected.length, 'the records after the external checkpoint', 30_000);
    await sub.stop();
    expect(seen.map(key).sort()).toEqual(expected.sort());
  });

  it('delivers a batch again after onBatch fails, and filters by type', async () => {
    const { log } = await freshTopic('retry');
    await log.append([noted(1, 'a'), catalog.create('test/other', 'a', { n: 2 }, { source: 'test' }), noted(3, 'a')]);
    const seen: number[] = [];
    let failures = 0;
    const sub = await log.subscribe({
      group: 'g3',
      types: ['test/noted'],
      onBatch: async (batch) => {
        if (failures === 0) {
          failures++;
          throw new Error('first try fails');
        }
        for (const record of batch) seen.push((record.event as Envelope<string, { n: number }>).data.n);
      },
    });
    await until(() => seen.length >= 2, 'the retried batch', 30_000);
    await sub.stop();
    expect(seen).toEqual([1, 3]);
    expect(failures).toBe(1);
  });
});
