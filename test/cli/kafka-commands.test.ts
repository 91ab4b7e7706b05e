// tail, status, replay and check, run as the real binary against a Kafka topic on the run's broker.
import { join } from 'node:path';
import { createEvent, type Envelope, type Position } from '@riverlog/core';
import { type KafkaLog, kafkaLog } from '@riverlog/kafka';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, rawKafka, uniqueTopic, until } from '../kafka/support.js';
import { catalog, v1 } from './fixtures/catalog-v2.mjs';
import { FIXTURES, jsonLines, riverlog, start } from './support.js';

const CATALOG = `${join(FIXTURES, 'catalog-v2.mjs')}#catalog`;
const COUNT = join(FIXTURES, 'count.mjs');
const topics: string[] = [];
const opened: KafkaLog[] = [];

function open(what: string, partitions: number): { log: KafkaLog; uri: string } {
  const topic = uniqueTopic(`cli-${what}`);
  topics.push(topic);
  const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions }, logLevel: 'nothing' });
  opened.push(log);
  return { log, uri: `kafka://${(brokers ?? []).join(',')}/${topic}` };
}

function events(): Envelope[] {
  const made: Envelope[] = [];
  for (let i = 1; i <= 5; i++)
    made.push(createEvent(v1, 'product/create', `p${i}`, { id: `p${i}`, title: `Old ${i}` }, { source: 'test/v1' }));
  for (let i = 6; i <= 8; i++)
    made.push(createEvent(catalog, 'product/create', `p${i}`, { id: `p${i}`, name: `New ${i}`, brand: 'Acme' }, { source: 'test/v2' }));
  for (let i = 1; i <= 8; i++) made.push(createEvent(catalog, 'product/purchase', `p${i}`, { id: `p${i}` }, { source: 'test/web' }));
  return made;
}

// One topic of 16 events shared by the tests that only read it.
let shop: { log: KafkaLog; uri: string };
let written: Envelope[] = [];
let positions: Position[] = [];

beforeAll(async () => {
  if (!brokers) return;
  shop = open('shop', 3);
  written = events();
  positions = await shop.log.append(written);
});
afterAll(async () => {
  for (const log of opened.splice(0)) await log.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

/** Offsets per partition of what was written, in order. */
const byPartition = () => {
  const map: Record<string, string[]> = {};
  for (const p of positions) map[p.partition] = [...(map[p.partition] ?? []), p.offset];
  return map;
};

describeKafka('riverlog on a Kafka log', () => {
  it('tail --no-follow --json prints every event once as a CloudEvent; filters by type, subject and partition', async () => {
    const [partition, offsets] = Object.entries(byPartition())[0] as [string, string[]];
    const tail = (...args: string[]) => riverlog(['tail', '--log', shop.uri, '--from', 'earliest', '--no-follow', '--json', ...args]);
    // Each read joins Kafka on its own: the three run at once.
    const [all, filtered, one] = await Promise.all([
      tail(),
      tail('--type', 'product/purchase', '--subject', 'p2,p7'),
      tail('--partition', partition),
    ]);
    expect(all.code, all.stderr).toBe(0);
    const printed = jsonLines(all.stdout) as Envelope[];
    expect(printed.map((e) => e.id).sort()).toEqual(written.map((e) => e.id).sort());
    expect(printed.every((e) => e.specversion === '1.0')).toBe(true);
    // Per subject, in the order written.
    const order = (list: Envelope[], subject: string) => list.filter((e) => e.subject === subject).map((e) => e.id);
    expect(order(printed, 'p3')).toEqual(order(written, 'p3'));

    expect(filtered.code, filtered.stderr).toBe(0);
    expect((jsonLines(filtered.stdout) as Envelope[]).map((e) => `${e.type} ${e.subject}`).sort()).toEqual([
      'product/purchase p2',
      'product/purchase p7',
    ]);

    expect(one.code, one.stderr).toBe(0);
    expect((jsonLines(one.stdout) as Envelope[]).length).toBe(offsets.length);
  });

  it('tail follows the topic: events appended after it started show up, and SIGINT ends it with 0', async () => {
    const { log, uri } = open('follow', 2);
    await log.append([createEvent(catalog, 'product/purchase', 'before', { id: 'before' }, { source: 'test' })]);
    const tail = start(['tail', '--log', uri, '--json']);
    try {
      // It starts at the end of the topic; new events until the child (still joining) shows one.
      let sent = 0;
      let last = 0;
      await until(
        async () => {
          if (tail.lines.length === 0 && Date.now() - last > 500) {
            last = Date.now();
            await log.append([createEvent(catalog, 'product/purchase', `b${sent++}`, { id: 'b' }, { source: 'test' })]);
          }
          return tail.lines.length > 0;
        },
        'the tail to show a first new event',
        60_000,
        () => (tail.stderr() ? new Error(`riverlog tail: ${tail.stderr()}`) : undefined),
      );
      await log.append([createEvent(catalog, 'product/purchase', 'z', { id: 'z' }, { source: 'test' })]);
      await until(() => tail.lines.some((l) => (JSON.parse(l) as Envelope).subject === 'z'), 'the tail to show z', 30_000);
      const shown = (tail.lines.map((l) => JSON.parse(l)) as Envelope[]).map((e) => e.subject);
      expect(shown).not.toContain('before');
    } finally {
      expect(await tail.stop(), tail.stderr()).toBe(0);
    }
  });

  it("status --json: partitions with heads and records, and a Kafka consumer group's committed offsets and lag", async () => {
    const offsets = byPartition();
    const [partition, held] = Object.entries(offsets).find(([, o]) => o.length >= 2) as [string, string[]];
    const group = `cli-status-${Date.now()}`;
    // The group finished the first record of `partition` (Kafka commits the next offset to read).
    const admin = rawKafka().admin();
    await admin.connect();
    try {
      const topic = shop.uri.slice(shop.uri.lastIndexOf('/') + 1);
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: [{ partition: Number(partition), offset: String(Number(held[0]) + 1) }],
      });
    } finally {
      await admin.disconnect();
    }
    const ran = await riverlog(['status', '--log', shop.uri, '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report.log.partitions.map((p: { id: string }) => p.id).sort()).toEqual(['0', '1', '2']);
    for (const p of report.log.partitions as { id: string; records: number; first?: string; head?: string; parents: string[] }[]) {
      const mine = offsets[p.id] ?? [];
      expect(p.records, p.id).toBe(mine.length);
      expect(p.parents).toEqual([]);
      if (mine.length > 0) expect([p.first, p.head]).toEqual([mine[0], mine[mine.length - 1]]);
    }
    const found = report.groups.find((g: { group: string }) => g.group === group);
    expect(found).toMatchObject({ source: 'kafka', lag: { records: written.length - 1 } });
    expect(found.partitions.find((p: { partition: string }) => p.partition === partition)).toEqual({
      partition,
      checkpoint: held[0],
      lag: { records: held.length - 1 },
    });
    // riverlog's own reads (the tails above) are not consumer groups a user has.
    expect(report.groups.every((g: { group: string }) => !g.group.startsWith('riverlog-read-'))).toBe(true);
  });

  it('replay into a handler module: everything, filtered, and from a position to a position', async () => {
    const [partition, held] = Object.entries(byPartition()).find(([, o]) => o.length >= 3) as [string, string[]];
    const replay = (...args: string[]) =>
      riverlog(['replay', '--log', shop.uri, '--catalog', CATALOG, '--handler', COUNT, '--json', ...args]);
    const [ran, filtered, ranged] = await Promise.all([
      replay(),
      replay('--type', 'product/purchase', '--subject', 'p1,p3'),
      replay('--from', `${partition}:${held[1]}`, '--to', `${partition}:${held[held.length - 2]}`),
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({
      records: 16,
      events: 16,
      skipped: 0,
      result: { events: 16, types: { 'product/create': 8, 'product/purchase': 8 } },
    });
    expect(filtered.code, filtered.stderr).toBe(0);
    expect(JSON.parse(filtered.stdout).result).toEqual({ events: 2, types: { 'product/purchase': 2 }, subjects: ['p1', 'p3'] });
    expect(ranged.code, ranged.stderr).toBe(0);
    expect(JSON.parse(ranged.stdout).result.events).toBe(held.length - 2);
  });

  it('check passes the topic of catalog v1 and v2 events; fails on one no version decodes, with its position and field path', async () => {
    const ran = await riverlog(['check', '--log', shop.uri, '--catalog', CATALOG, '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({ records: 16, valid: 16, failed: 0, ok: true, failures: [] });
    expect(report.types['product/create']).toEqual({ records: 8, versions: { '1': 5, '2': 3 }, failed: 0 });

    const { log, uri } = open('bad', 1);
    const good = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'Acme' }, { source: 'test' });
    const bad = {
      ...createEvent(v1, 'product/create', 'p2', { id: 'p2', title: 'x' }, { source: 'test' }),
      data: { id: 42, name: 'Coat' },
    };
    const [, position] = await log.append([good, bad as Envelope]);
    const failed = await riverlog(['check', '--log', uri, '--catalog', CATALOG, '--json']);
    expect(failed.code, failed.stderr).toBe(1);
    const result = JSON.parse(failed.stdout);
    expect(result).toMatchObject({ records: 2, valid: 1, failed: 1, ok: false });
    expect(result.failures[0]).toMatchObject({ at: `0:${position?.offset}`, position, type: 'product/create', code: 'DECODE_FAILED' });
    expect(result.failures[0].issues.map((i: { path: string }) => i.path).sort()).toEqual(['data.id', 'data.title']);
  });

  it('a topic that does not exist is LOG_OPEN_FAILED, and reading commands do not create it', async () => {
    const topic = uniqueTopic('cli-missing');
    const uri = `kafka://${(brokers ?? []).join(',')}/${topic}`;
    const ran = await riverlog(['status', '--log', uri]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^riverlog: LOG_OPEN_FAILED: /);
    const admin = rawKafka().admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(topic);
    } finally {
      await admin.disconnect();
    }
  });
});
