import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { defineCatalog, defineEvent } from './catalog.js';
import { createEvent } from './create-event.js';
import type { Envelope } from './envelope.js';
import { readEnds, readLineage, readyPartitions } from './lineage.js';
import { memoryLog } from './memory/memory-log.js';
import { type EventLog, PARTITION_END, type PartitionInfo, type ReadBatch } from './ports.js';
import { compareOffsets } from './position.js';

const catalog = defineCatalog([defineEvent('counter/add', { data: { n: t.number } })]);

let sequence = 0;
function adds(count: number, subjects = 16): Envelope[] {
  return Array.from({ length: count }, () => {
    const n = sequence++;
    return createEvent(catalog, 'counter/add', `s${n % subjects}`, { n }, { source: 'lineage-test' });
  });
}

/** Each subject's numbers in the order read. */
function bySubject(batches: readonly ReadBatch[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const batch of batches) {
    for (const record of batch.records) {
      const event = record.event as Envelope;
      out.set(event.subject, [...(out.get(event.subject) ?? []), (event.data as { n: number }).n]);
    }
  }
  return out;
}

function expectInOrder(batches: readonly ReadBatch[], total: number): void {
  let count = 0;
  for (const numbers of bySubject(batches).values()) {
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    count += numbers.length;
  }
  expect(count).toBe(total);
}

async function collect(read: AsyncIterable<ReadBatch>): Promise<ReadBatch[]> {
  const batches: ReadBatch[] = [];
  for await (const batch of read) batches.push(batch);
  return batches;
}

/** The log, reading the partitions it is given last first: a reader that relies on the backend's order fails with it. */
function reversed(log: EventLog): EventLog {
  return {
    ...log,
    read: (options = {}) => log.read({ ...options, partitions: [...(options.partitions ?? [])].reverse() }),
  };
}

/** Waits (a tick at a time) until a reader running beside the test has read `count` records. */
async function readAtLeast(read: () => number, count: number): Promise<void> {
  for (let ticks = 0; read() < count; ticks++) {
    if (ticks > 5000) throw new Error(`read ${read()} records, expected at least ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const info = (id: string, parents: string[] = [], closed = false): PartitionInfo => ({ id, parents, closed });

describe('readyPartitions', () => {
  it('gives unfinished partitions whose parents are all finished or gone, in the order listed', () => {
    const partitions = [info('0', [], true), info('1', [], true), info('2', ['0']), info('3', ['0']), info('4', ['1', '2'])];
    expect(readyPartitions(partitions, {})).toEqual(['0', '1']);
    expect(readyPartitions(partitions, { '0': PARTITION_END, '1': '7' })).toEqual(['1', '2', '3']);
    expect(readyPartitions(partitions, { '0': PARTITION_END, '1': PARTITION_END })).toEqual(['2', '3']);
    expect(readyPartitions(partitions, { '0': PARTITION_END, '1': PARTITION_END, '2': PARTITION_END })).toEqual(['3', '4']);
    // A parent past retention is no longer listed: its children are ready.
    expect(readyPartitions([info('5', ['gone']), info('6', ['5'])], {})).toEqual(['5']);
  });
});

describe('memory log reshards', () => {
  it('closes the parent, lists children with their parents, and routes subjects only to descendants', async () => {
    const log = memoryLog({ partitions: 2 });
    const before = await log.append(adds(64));
    const children = await log.split('1');
    expect(children).toEqual([info('2', ['1']), info('3', ['1'])]);
    const merged = await log.merge('0', '3');
    expect(merged).toEqual(info('4', ['0', '3']));
    expect(await log.partitions()).toEqual([
      info('0', [], true),
      info('1', [], true),
      info('2', ['1']),
      info('3', ['1'], true),
      info('4', ['0', '3']),
    ]);
    const after = await log.append(adds(64));
    const descendants: Record<string, string[]> = { '0': ['4'], '1': ['2', '4'] };
    before.forEach((position, i) => {
      expect(descendants[position.partition]).toContain(after[i]?.partition);
    });
    await expect(log.split('1')).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(log.merge('2', 'nine')).rejects.toMatchObject({ code: 'UNKNOWN_PARTITION' });
  });

  it('ends a read of a closed partition with ended, also when it closes during a following read', async () => {
    const log = memoryLog({ partitions: 1 });
    await log.append(adds(3));
    const controller = new AbortController();
    const batches: ReadBatch[] = [];
    for await (const batch of log.read({ follow: true, signal: controller.signal })) {
      batches.push(batch);
      if (batches.length === 1) await log.split('0');
    }
    expect(batches.map((b) => [b.records.length, b.caughtUp, b.ended])).toEqual([
      [3, true, false],
      [0, true, true],
    ]);
    const again = await collect(log.read({ partitions: ['0'], from: { after: { '0': '1' } } }));
    expect(again.map((b) => [b.records.length, b.caughtUp, b.ended, b.lag])).toEqual([[1, true, true, { records: 0 }]]);
    expect(await collect(log.read({ partitions: ['1'], from: { after: { '1': PARTITION_END } } }))).toEqual([
      { partition: '1', records: [], caughtUp: true, ended: true, lag: { records: 0 } },
    ]);
  });
});

describe('readLineage', () => {
  it('reads every record once, parents before children, each subject in order', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(adds(100));
    await log.split('0');
    await log.append(adds(100));
    await log.merge('1', '3');
    await log.append(adds(100));
    const batches = await collect(readLineage(reversed(log), { batchSize: 7 }));
    expectInOrder(batches, 300);
    const endedAt = new Map(batches.map((b, i) => [b.partition, b.ended ? i : -1]));
    const firstOf = (id: string) => batches.findIndex((b) => b.partition === id);
    for (const { id, parents } of await log.partitions()) {
      for (const parent of parents) expect(firstOf(id)).toBeGreaterThan(endedAt.get(parent) as number);
    }
    expect(batches.filter((b) => b.ended).map((b) => b.partition)).toEqual(expect.arrayContaining(['0', '1', '3']));
  });

  it('resumes from a checkpoint: finished partitions are skipped, their children read', async () => {
    const log = memoryLog({ partitions: 1 });
    await log.append(adds(5, 1));
    await log.split('0');
    await log.append(adds(5, 1));
    const batches = await collect(readLineage(log, { from: { after: { '0': PARTITION_END } } }));
    expect(batches.some((b) => b.partition === '0')).toBe(false);
    expect(batches.flatMap((b) => b.records)).toHaveLength(5);
  });

  it('follows a split and a merge made in the middle of the read, keeping each subject in order', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(adds(50));
    const controller = new AbortController();
    const batches: ReadBatch[] = [];
    let read = 0;
    const reading = (async () => {
      for await (const batch of readLineage(reversed(log), {
        follow: true,
        signal: controller.signal,
        batchSize: 5,
        discoverEveryMs: 10,
      })) {
        batches.push(batch);
        read += batch.records.length;
        if (read === 200) controller.abort();
      }
    })();
    await readAtLeast(() => read, 50);
    await log.split('1');
    await log.append(adds(50));
    await readAtLeast(() => read, 60);
    await log.merge('0', '2');
    await log.append(adds(50));
    await log.split('4');
    await log.append(adds(50));
    await reading;
    expect((await log.partitions()).map((p) => [p.id, p.parents, p.closed])).toEqual([
      ['0', [], true],
      ['1', [], true],
      ['2', ['1'], true],
      ['3', ['1'], false],
      ['4', ['0', '2'], true],
      ['5', ['4'], false],
      ['6', ['4'], false],
    ]);
    expectInOrder(batches, 200);
  });

  it('without follow, starts children of partitions that ended while it ran and then finishes', async () => {
    const log = memoryLog({ partitions: 1 });
    await log.append(adds(4, 2));
    const batches: ReadBatch[] = [];
    for await (const batch of readLineage(reversed(log), { batchSize: 1 })) {
      batches.push(batch);
      if (batches.length === 1) {
        await log.split('0');
        await log.append(adds(4, 2));
      }
    }
    expectInOrder(batches, 8);
  });

  it('from latest reads only what comes later, also in partitions that appear later', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(adds(20));
    const later = sequence;
    const controller = new AbortController();
    const batches: ReadBatch[] = [];
    const reading = (async () => {
      for await (const batch of readLineage(log, { from: 'latest', follow: true, signal: controller.signal, discoverEveryMs: 10 })) {
        batches.push(batch);
        if (batches.flatMap((b) => b.records).length === 20) controller.abort();
      }
    })();
    await log.split('0');
    await log.append(adds(20));
    await reading;
    const numbers = batches.flatMap((b) => b.records).map((r) => ((r.event as Envelope).data as { n: number }).n);
    expect(Math.min(...numbers)).toBe(later);
    expectInOrder(batches, 20);
  });

  it('ends a following read when its signal aborts, while waiting', async () => {
    const log = memoryLog({ partitions: 2 });
    const controller = new AbortController();
    const reading = collect(readLineage(log, { follow: true, signal: controller.signal }));
    setTimeout(() => controller.abort(), 5);
    expect((await reading).every((b) => b.records.length === 0)).toBe(true);
  });

  it('passes on a read error', async () => {
    const log = memoryLog();
    const broken: EventLog = {
      ...log,
      // biome-ignore lint/correctness/useYield: fails before its first batch
      async *read() {
        throw new Error('disk on fire');
      },
    };
    await expect(collect(readLineage(broken))).rejects.toThrow('disk on fire');
  });
});

describe('readEnds', () => {
  it('gives the last offset per partition, the after offset when nothing is past it, and end for an ended partition', async () => {
    const log = memoryLog({ partitions: 3 });
    const positions = await log.append(adds(30, 1)); // one subject: all in one partition
    const full = positions[0]?.partition as string;
    const others = ['0', '1', '2'].filter((id) => id !== full);
    expect(await readEnds(log, ['0', '1', '2'], {})).toEqual({ [full]: '29' });
    expect(await readEnds(log, ['0', '1', '2'], { [full]: '29', [others[0] as string]: '3' })).toEqual({
      [full]: '29',
      [others[0] as string]: '3',
    });
    await log.split(full);
    expect(await readEnds(log, [full], { [full]: '10' })).toEqual({ [full]: PARTITION_END });
    expect(compareOffsets(PARTITION_END, '29')).toBe(1);
    expect(compareOffsets('100', PARTITION_END)).toBe(-1);
    expect(compareOffsets(PARTITION_END, PARTITION_END)).toBe(0);
  });
});
