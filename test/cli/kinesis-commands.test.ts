// tail and status run as the real binary against a Kinesis stream on the run's kinesalite, named by a
// kinesis:// URI (opened by @riverlog/kinesis's kinesisLogFromUri); outputs parsed and asserted.
import { join } from 'node:path';
import { createEvent, type Envelope, type Position, RiverlogError } from '@riverlog/core';
import type { KinesisLog } from '@riverlog/kinesis';
import { sqliteCheckpointStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesalite, streamLog, uniqueStream } from '../kinesis/log-support.js';
import { catalog } from './fixtures/catalog-v2.mjs';
import { jsonLines, riverlog, start, tempDir } from './support.js';

const tmp = tempDir();
/** The emulator's address for URIs (empty when it is absent: the tests skip then). */
const at = kinesalite.endpoint ? `endpoint=${kinesalite.endpoint}&region=${kinesalite.region}` : '';
const streams: string[] = [];
const opened: KinesisLog[] = [];

/** A new stream of `shards` shards, a log on it, and its URI for the command (a short wait at the tip; the 5 calls/s budget). */
function open(what: string, shards: number): { log: KinesisLog; uri: string; stream: string } {
  const stream = uniqueStream(`cli-${what}`);
  streams.push(stream);
  const log = streamLog(kinesalite, stream, shards);
  opened.push(log);
  return { log, stream, uri: `kinesis://${stream}?${at}&pollIntervalMs=50` };
}

function events(): Envelope[] {
  const made: Envelope[] = [];
  for (let i = 1; i <= 4; i++)
    made.push(createEvent(catalog, 'product/create', `p${i}`, { id: `p${i}`, name: `Boot ${i}`, brand: 'Acme' }, { source: 'test' }));
  for (let i = 1; i <= 4; i++) made.push(createEvent(catalog, 'product/purchase', `p${i}`, { id: `p${i}` }, { source: 'test/web' }));
  return made;
}

// One 2-shard stream of 8 events shared by the tests that only read it.
let shop: { log: KinesisLog; uri: string; stream: string };
let written: Envelope[] = [];
let positions: Position[] = [];

/** Offsets per shard of what was written, in order. */
const byShard = () => {
  const map: Record<string, string[]> = {};
  for (const p of positions) map[p.partition] = [...(map[p.partition] ?? []), p.offset];
  return map;
};

beforeAll(async () => {
  if (!kinesalite.endpoint) return;
  shop = open('shop', 2);
  written = events();
  positions = await shop.log.append(written);
  // Both shards hold events (subjects p1–p4 hash to both on kinesalite), so per-shard reads are tested.
  expect(Object.keys(byShard()).length).toBe(2);
}, 60_000);

afterAll(async () => {
  for (const log of opened.splice(0)) await log.close();
  for (const stream of streams.splice(0)) await deleteStream(kinesalite, stream);
  tmp.remove();
});

describeOn(kinesalite, 'riverlog on Kinesis')('riverlog on a Kinesis log (kinesis://…)', () => {
  it('tail --no-follow --json prints every event once, in order per subject; filters by type, subject, shard and position', async () => {
    const [shard, offsets] = Object.entries(byShard()).find(([, o]) => o.length >= 2) as [string, string[]];
    const tail = (...args: string[]) => riverlog(['tail', '--log', shop.uri, '--no-follow', '--json', ...args]);
    const [all, filtered, one, fromPosition] = await Promise.all([
      tail('--from', 'earliest'),
      tail('--from', 'earliest', '--type', 'product/purchase', '--subject', 'p2,p3'),
      tail('--from', 'earliest', '--partition', shard),
      // The second record of `shard` onwards (the position included), only that shard.
      tail('--from', `${shard}:${offsets[1]}`, '--partition', shard),
    ]);
    expect(all.code, all.stderr).toBe(0);
    const printed = jsonLines(all.stdout) as Envelope[];
    expect(printed.map((e) => e.id).sort()).toEqual(written.map((e) => e.id).sort());
    expect(printed.every((e) => e.specversion === '1.0')).toBe(true);
    expect(printed.find((e) => e.id === written[0]?.id)).toEqual(written[0]);
    const order = (list: Envelope[], subject: string) => list.filter((e) => e.subject === subject).map((e) => e.id);
    for (const subject of ['p1', 'p2', 'p3', 'p4']) expect(order(printed, subject)).toEqual(order(written, subject));

    expect(filtered.code, filtered.stderr).toBe(0);
    expect((jsonLines(filtered.stdout) as Envelope[]).map((e) => `${e.type} ${e.subject}`).sort()).toEqual([
      'product/purchase p2',
      'product/purchase p3',
    ]);

    const onShard = written.filter((_, i) => positions[i]?.partition === shard).map((e) => e.id);
    expect(one.code, one.stderr).toBe(0);
    expect((jsonLines(one.stdout) as Envelope[]).map((e) => e.id)).toEqual(onShard);
    expect(fromPosition.code, fromPosition.stderr).toBe(0);
    expect((jsonLines(fromPosition.stdout) as Envelope[]).map((e) => e.id)).toEqual(onShard.slice(1));
  });

  it('tail follows the stream from its end: events appended after it started show up, and SIGINT ends it with 0', async () => {
    const { log, uri } = open('follow', 2);
    await log.append([createEvent(catalog, 'product/purchase', 'before', { id: 'before' }, { source: 'test' })]);
    const tail = start(['tail', '--log', uri, '--json']);
    try {
      // It starts at the end (LATEST): new events until the child, still connecting, shows one.
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
        30_000,
        () => (/riverlog:/.test(tail.stderr()) ? new Error(`riverlog tail: ${tail.stderr()}`) : undefined),
      );
      const z = createEvent(catalog, 'product/purchase', 'z', { id: 'z' }, { source: 'test' });
      await log.append([z]);
      await until(() => tail.lines.some((l) => (JSON.parse(l) as Envelope).id === z.id), 'the tail to show z', 30_000);
      const shown = (tail.lines.map((l) => JSON.parse(l)) as Envelope[]).map((e) => e.subject);
      expect(shown).not.toContain('before');
      expect(shown.filter((s) => s === 'z')).toEqual(['z']);
    } finally {
      expect(await tail.stop(), tail.stderr()).toBe(0);
    }
  });

  it("status --json: the shards with their first records, and a group's checkpoints from a SQLite store", async () => {
    const offsets = byShard();
    const [shard, held] = Object.entries(offsets).find(([, o]) => o.length >= 2) as [string, string[]];
    const other = Object.keys(offsets).find((id) => id !== shard) as string;
    const otherHeld = offsets[other] as string[];
    const path = join(tmp.dir, 'checkpoints.db');
    const checkpoints = sqliteCheckpointStore({ path });
    // The group finished `shard` up to its first record, and all of the other shard.
    await checkpoints.save('emailer', { [shard]: held[0] as string, [other]: otherHeld[otherHeld.length - 1] as string });
    await checkpoints.close();

    const ran = await riverlog(['status', '--log', shop.uri, '--checkpoints', `sqlite:${path}`, '--group', 'emailer', '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report.log.uri).toBe(`kinesis://${shop.stream}`);
    expect(report.log.partitions.map((p: { id: string }) => p.id)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    for (const p of report.log.partitions as { id: string; first?: string; parents: string[]; closed: boolean }[]) {
      expect(p, p.id).toMatchObject({ parents: [], closed: false, first: offsets[p.id]?.[0] });
    }
    const group = report.groups.find((g: { group: string }) => g.group === 'emailer');
    expect(group.partitions.map((p: { partition: string; checkpoint: string }) => [p.partition, p.checkpoint]).sort()).toEqual(
      [
        [shard, held[0]],
        [other, otherHeld[otherHeld.length - 1]],
      ].sort(),
    );
    // Nothing is left after the other shard's checkpoint: no lag there, whatever the unit.
    const lagOf = (id: string) => group.partitions.find((p: { partition: string }) => p.partition === id).lag;
    expect(Object.values(lagOf(other))).toEqual([0]);
  });

  it('status --json shows lineage after a split: the parent closed, its two children naming it', async () => {
    const { log, uri } = open('split', 1);
    await log.append([createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source: 'test' })]);
    const [parent] = (await log.partitions()).map((p) => p.id);
    await log.split(parent as string);
    const ran = await riverlog(['status', '--log', uri, '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const partitions = JSON.parse(ran.stdout).log.partitions as { id: string; parents: string[]; closed: boolean }[];
    expect(partitions).toHaveLength(3);
    expect(partitions.find((p) => p.id === parent)).toMatchObject({ parents: [], closed: true });
    const children = partitions.filter((p) => p.id !== parent);
    expect(children.map((p) => ({ parents: p.parents, closed: p.closed }))).toEqual([
      { parents: [parent], closed: false },
      { parents: [parent], closed: false },
    ]);
  });

  it('a stream that does not exist is LOG_OPEN_FAILED in one line, and reading commands do not create it', async () => {
    const stream = uniqueStream('cli-missing');
    const ran = await riverlog(['status', '--log', `kinesis://${stream}?${at}`]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(new RegExp(`^riverlog: LOG_OPEN_FAILED: .*${stream}`, 'm'));
    const probe = streamLog(kinesalite, stream, 1, { createStream: false });
    opened.push(probe);
    await expect(probe.partitions()).rejects.toSatisfy((error) => error instanceof RiverlogError && error.code === 'LOG_OPEN_FAILED');
  });
});
