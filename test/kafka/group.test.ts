// kafkaLog's consumer groups (GroupSubscribable) on a real broker: one
// checkpoint per group, either Kafka's group offsets or the caller's store.
import {
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  type GroupBatchControl,
  type LogRecord,
  type ReadBatch,
  t,
} from '@riverlog/core';
import { type KafkaClientLike, type KafkaLog, type KafkaLogOptions, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, rawKafka, uniqueTopic, until } from './support.js';

const Noted = defineEvent('test/noted', { data: { n: t.number } });
const Other = defineEvent('test/other', { data: { n: t.number } });
const catalog = defineCatalog([Noted, Other]);
const noted = (n: number, subject = `s-${n % 17}`): Envelope => createEvent(catalog, 'test/noted', subject, { n }, { source: 'test' });

const opened: KafkaLog[] = [];
const subscriptions: { stop(): Promise<void> }[] = [];
const topics: string[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.stop();
  for (const log of opened.splice(0)) await log.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

function openLog(topic: string, extra: Partial<KafkaLogOptions> = {}, partitions = 3): KafkaLog {
  const log = kafkaLog({
    brokers: brokers ?? [],
    topic,
    logLevel: 'nothing',
    createTopic: { partitions },
    consumer: { sessionTimeout: 10_000, heartbeatInterval: 500 },
    ...extra,
  });
  opened.push(log);
  return log;
}

function freshTopic(what: string, partitions = 3, extra: Partial<KafkaLogOptions> = {}): { topic: string; log: KafkaLog } {
  const topic = uniqueTopic(what);
  topics.push(topic);
  return { topic, log: openLog(topic, extra, partitions) };
}

const key = (r: LogRecord) => `${r.position.partition}/${r.position.offset}`;

/** The group's committed offsets (the next offset to read) and the topic's high watermarks, per partition, from outside riverlog. */
async function offsets(topic: string, group: string): Promise<{ committed: Record<string, string>; high: Record<string, string> }> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const committed = Object.fromEntries((fetched?.partitions ?? []).map((p) => [String(p.partition), p.offset]));
    const high = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [String(p.partition), p.high]));
    return { committed, high };
  } finally {
    await admin.disconnect();
  }
}

async function setGroupOffsets(topic: string, group: string, partitions: Record<string, string>): Promise<void> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: Object.entries(partitions).map(([partition, offset]) => ({ partition: Number(partition), offset })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** A kafkajs client whose consumers' first `failures` offset commits fail. */
function failingCommits(failures: number): KafkaClientLike {
  const kafka = rawKafka();
  let left = failures;
  return {
    producer: (config) => kafka.producer(config),
    admin: (config) => kafka.admin(config),
    consumer(config) {
      const consumer = kafka.consumer(config);
      const commit = consumer.commitOffsets.bind(consumer);
      consumer.commitOffsets = async (toCommit) => {
        if (left > 0) {
          left--;
          throw new Error('injected commit failure');
        }
        return commit(toCommit);
      };
      return consumer;
    },
  };
}

describeKafka('kafkaLog consumer groups', () => {
  it('shares the partitions between two members; every record once; the group offsets (the one checkpoint) end at the high watermarks', async () => {
    const { topic, log } = freshTopic('group');
    const other = openLog(topic);
    await log.append(Array.from({ length: 300 }, (_, i) => noted(i)));
    const seen: string[] = [];
    const assigned = new Map<string, string[]>();
    const member = async (name: string, on: KafkaLog) => {
      const subscription = await on.subscribe({
        group: 'g1',
        onAssigned: (partitions) => assigned.set(name, [...(assigned.get(name) ?? []), ...partitions]),
        onBatch: async (batch) => {
          for (const record of batch.records) seen.push(key(record));
        },
      });
      subscriptions.push(subscription);
      return subscription;
    };
    const first = await member('a', log);
    const second = await member('b', other);
    await log.append(Array.from({ length: 300 }, (_, i) => noted(300 + i)));
    await until(() => seen.length >= 600, '600 records handled', 30_000);
    expect(new Set(seen).size).toBe(600);
    expect(seen.length).toBe(600);
    await until(() => (assigned.get('b')?.length ?? 0) > 0, 'the second member to get partitions', 30_000);
    await second.stop();
    await first.stop();
    const { committed, high } = await offsets(topic, 'g1');
    expect(committed).toEqual(high);
  });

  it('with a checkpoint store: starts after its checkpoints, and neither reads nor commits the group offsets', async () => {
    const { topic, log } = freshTopic('store');
    const positions = await log.append(Array.from({ length: 60 }, (_, i) => noted(i)));
    const before = await offsets(topic, 'g2');
    // The group's own offsets at the high watermarks: a subscription that read them would deliver nothing.
    await setGroupOffsets(topic, 'g2', before.high);
    const loaded: string[] = [];
    const seen: LogRecord[] = [];
    const subscription = await log.subscribe({
      group: 'g2',
      checkpoints: {
        async load(partition) {
          loaded.push(partition);
          return '0';
        },
      },
      onBatch: async (batch) => {
        seen.push(...batch.records);
      },
    });
    subscriptions.push(subscription);
    const expected = positions.filter((p) => p.offset !== '0').map((p) => `${p.partition}/${p.offset}`);
    await until(() => seen.length >= expected.length, 'the records after the store checkpoint', 30_000);
    await subscription.stop();
    expect(seen.map(key).sort()).toEqual(expected.sort());
    expect(loaded.sort()).toEqual(['0', '1', '2']);
    expect((await offsets(topic, 'g2')).committed).toEqual(before.high);
  });

  it('with a checkpoint store behind the group offsets: the group offsets are not read', async () => {
    const { topic, log } = freshTopic('store-ahead');
    const positions = await log.append(Array.from({ length: 30 }, (_, i) => noted(i)));
    // The group says "nothing read yet"; the store says everything but the last record of each partition is done.
    await setGroupOffsets(topic, 'g2b', { '0': '0', '1': '0', '2': '0' });
    const lastOf = new Map<string, string>();
    for (const p of positions) if (BigInt(p.offset) >= BigInt(lastOf.get(p.partition) ?? '-1')) lastOf.set(p.partition, p.offset);
    const seen: LogRecord[] = [];
    const subscription = await log.subscribe({
      group: 'g2b',
      checkpoints: { load: async (partition) => (BigInt(lastOf.get(partition) ?? '0') - 1n).toString() },
      onBatch: async (batch) => {
        seen.push(...batch.records);
      },
    });
    subscriptions.push(subscription);
    await until(() => seen.length >= lastOf.size, 'the last record of each partition', 30_000);
    // Nothing earlier comes later.
    const [added] = await log.append([noted(1000, 's-0')]);
    await until(() => seen.length >= lastOf.size + 1, 'the new record', 30_000);
    const expected = [...[...lastOf].map(([p, o]) => `${p}/${o}`), `${added?.partition}/${added?.offset}`];
    expect(seen.map(key).sort()).toEqual(expected.sort());
  });

  it('a partition assigned at its end gets an empty caught-up batch; later batches say their lag and whether they caught up', async () => {
    const { log } = freshTopic('caught-up', 2);
    const batches: ReadBatch[] = [];
    const subscription = await log.subscribe({
      group: 'g-caught-up',
      onBatch: async (batch) => {
        batches.push(batch);
      },
    });
    subscriptions.push(subscription);
    await until(() => new Set(batches.map((b) => b.partition)).size === 2, 'a caught-up batch for each empty partition', 30_000);
    expect(batches.map((b) => [b.partition, b.records.length, b.caughtUp, b.lag]).sort()).toEqual([
      ['0', 0, true, { records: 0 }],
      ['1', 0, true, { records: 0 }],
    ]);
    await log.append(Array.from({ length: 5 }, (_, i) => noted(i, 'one-subject')));
    await until(() => batches.reduce((n, b) => n + b.records.length, 0) >= 5, 'the new records', 30_000);
    const last = batches[batches.length - 1] as ReadBatch;
    expect(last.caughtUp).toBe(true);
    expect(last.lag).toEqual({ records: 0 });
  });

  it('a failed offset commit is reported and its batch delivered again; the offsets end at the high watermarks', async () => {
    const { topic, log } = freshTopic('commit-fails', 1, { kafka: failingCommits(1) });
    await log.append(Array.from({ length: 10 }, (_, i) => noted(i, 'a')));
    const seen: number[] = [];
    const errors: { error: unknown; partition: string | undefined }[] = [];
    const subscription = await log.subscribe({
      group: 'g-commit',
      onBatch: async (batch) => {
        for (const record of batch.records) seen.push((record.event as Envelope<string, { n: number }>).data.n);
      },
      onError: (error, partition) => errors.push({ error, partition }),
    });
    subscriptions.push(subscription);
    await until(async () => {
      const { committed, high } = await offsets(topic, 'g-commit');
      return committed['0'] === high['0'];
    }, 'the offset committed after the failure');
    await subscription.stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.partition).toBe('0');
    expect(errors[0]?.error).toMatchObject({ code: 'LOG_WRITE_FAILED', message: expect.stringContaining('injected commit failure') });
    // Delivered twice, in order each time; never skipped.
    const expected = Array.from({ length: 10 }, (_, i) => i);
    expect(seen).toEqual([...expected, ...expected]);
  });

  it('a batch that stops early commits what it finished; the rest comes again', async () => {
    const { topic, log } = freshTopic('stop-early', 1);
    await log.append(Array.from({ length: 10 }, (_, i) => noted(i, 'a')));
    const seen: number[] = [];
    let stoppedOnce = false;
    const subscription = await log.subscribe({
      group: 'g-early',
      onBatch: async (batch) => {
        for (const record of batch.records) {
          const n = (record.event as Envelope<string, { n: number }>).data.n;
          if (n === 4 && !stoppedOnce) {
            stoppedOnce = true;
            return { lastFinished: String(BigInt(record.position.offset) - 1n) };
          }
          seen.push(n);
        }
      },
    });
    subscriptions.push(subscription);
    await until(() => seen.length >= 10, 'every record finished once', 30_000);
    await subscription.stop();
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect((await offsets(topic, 'g-early')).committed).toEqual({ '0': '10' });
  });

  it('delivers a batch again after onBatch fails, and filters by type', async () => {
    const { log } = freshTopic('retry');
    await log.append([noted(1, 'a'), createEvent(catalog, 'test/other', 'a', { n: 2 }, { source: 'test' }), noted(3, 'a')]);
    const seen: number[] = [];
    let failures = 0;
    const errors: unknown[] = [];
    const subscription = await log.subscribe({
      group: 'g3',
      types: ['test/noted'],
      onBatch: async (batch) => {
        if (batch.records.length === 0) return;
        if (failures === 0) {
          failures++;
          throw new Error('first try fails');
        }
        for (const record of batch.records) seen.push((record.event as Envelope<string, { n: number }>).data.n);
      },
      onError: (error) => errors.push(error),
    });
    subscriptions.push(subscription);
    await until(() => seen.length >= 2, 'the retried batch', 30_000);
    await subscription.stop();
    expect(seen).toEqual([1, 3]);
    expect(failures).toBe(1);
    expect(errors).toEqual([expect.objectContaining({ message: 'first try fails' })]);
  });

  it("a member whose batch outlives its membership sees isActive() false, and its commit never lands over the new owner's", async () => {
    const topic = uniqueTopic('revoked');
    topics.push(topic);
    // Short rebalance and session timeouts: the stuck member is removed from the group quickly.
    const quick = { consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 3_000 } };
    const stuck = openLog(topic, quick, 1);
    const owner = openLog(topic, quick, 1);
    await stuck.append(Array.from({ length: 20 }, (_, i) => noted(i, 'a')));

    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let stuckControl: GroupBatchControl | undefined;
    let stuckBatches = 0;
    const stuckMember = await stuck.subscribe({
      group: 'g-revoked',
      onBatch: async (batch, control) => {
        if (batch.records.length === 0) return;
        stuckBatches++;
        stuckControl = control;
        await gate;
      },
      onError: () => {},
    });
    subscriptions.push(stuckMember);
    await until(() => stuckControl !== undefined, 'the first member to hold a batch');

    const taken: number[] = [];
    const ownerMember = await owner.subscribe({
      group: 'g-revoked',
      onBatch: async (batch) => {
        for (const record of batch.records) taken.push((record.event as Envelope<string, { n: number }>).data.n);
      },
      onError: () => {},
    });
    subscriptions.push(ownerMember);
    await until(() => taken.length >= 20, 'the second member to take the partition over', 60_000);
    await owner.append(Array.from({ length: 5 }, (_, i) => noted(20 + i, 'a')));
    await until(async () => (await offsets(topic, 'g-revoked')).committed['0'] === '25', "the new owner's commit", 30_000);

    expect(stuckControl?.isActive()).toBe(false);
    release();
    await stuckMember.stop();
    expect(stuckBatches).toBe(1);
    expect((await offsets(topic, 'g-revoked')).committed).toEqual({ '0': '25' });
  });
});
