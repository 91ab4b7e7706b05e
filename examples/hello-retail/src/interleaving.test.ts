import { type Envelope, type LogRecord, memoryLog, memoryViewStore } from '@riverlog/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildViews, decodeAll, dumpViews, type PlayedDay, playOnMemory, recordsByPartition, seededRandom } from './testing/harness.js';
import { type ReferenceViews, referenceViews } from './testing/reference.js';

/** Merges the partitions in a random order that keeps each partition's own order. */
function interleave(partitions: readonly (readonly LogRecord[])[], random: () => number): LogRecord[] {
  const cursors = partitions.map(() => 0);
  const merged: LogRecord[] = [];
  for (;;) {
    const open = partitions.map((_records, i) => i).filter((i) => (cursors[i] as number) < (partitions[i] as LogRecord[]).length);
    if (open.length === 0) return merged;
    const pick = open[Math.floor(random() * open.length)] as number;
    merged.push((partitions[pick] as LogRecord[])[cursors[pick] as number] as LogRecord);
    cursors[pick] = (cursors[pick] as number) + 1;
  }
}

/** Pairs of events of different partitions whose order in `merged` is the reverse of their time order. */
function crossPartitionInversions(merged: readonly LogRecord[]): number {
  let inversions = 0;
  for (let i = 0; i < merged.length; i++) {
    for (let j = i + 1; j < merged.length; j++) {
      const a = merged[i] as LogRecord;
      const b = merged[j] as LogRecord;
      if (a.position.partition === b.position.partition) continue;
      if (Date.parse((a.event as Envelope).time) > Date.parse((b.event as Envelope).time)) inversions++;
    }
  }
  return inversions;
}

const SEEDS = Array.from({ length: 24 }, (_, i) => 1000 + i);

describe('any interleaving of partitions that keeps each partition in order gives the same views', () => {
  let day: PlayedDay;
  let partitions: LogRecord[][];
  let original: ReferenceViews;

  beforeAll(async () => {
    day = await playOnMemory(4);
    partitions = [...(await recordsByPartition(day.log)).values()];
    original = await dumpViews(day.store);
  });

  it('the day spreads over several partitions, so there is something to interleave', () => {
    expect(partitions.filter((records) => records.length > 0).length).toBeGreaterThanOrEqual(3);
  });

  it.each(SEEDS)('seed %i: the views folded from one merged partition equal the original and the reference', async (seed) => {
    const random = seededRandom(seed);
    const merged = interleave(partitions, random);
    expect(merged).toHaveLength(partitions.flat().length);
    // The merges really do reorder events across partitions against time.
    expect(crossPartitionInversions(merged)).toBeGreaterThan(0);

    const single = memoryLog({ partitions: 1 });
    await single.append(merged.map((record) => record.event as Envelope));
    const store = memoryViewStore();
    // Small random batches: rows cross the store between batches, not only within one fold.
    await buildViews(single, store, { batchSize: 1 + Math.floor(random() * 6) });
    const views = await dumpViews(store);

    expect(views, `seed ${seed}`).toEqual(original);
    expect(referenceViews(decodeAll(merged)), `seed ${seed}`).toEqual(original);
  });

  it('the reference model is itself order-sensitive where it must be: a reordered subject changes it', () => {
    // Guard against a vacuous oracle: moving a product's image before its assignment must change the result.
    const events = decodeAll(partitions.flat());
    const image = events.findIndex((e) => e.type === 'product/image' && e.data.id === 'p-boot');
    const reordered = [...events];
    const [moved] = reordered.splice(image, 1);
    const assignedAt = reordered.findIndex((e) => e.type === 'photo/assigned' && e.data.id === 'p-boot');
    reordered.splice(assignedAt, 0, moved as (typeof events)[number]);
    expect(referenceViews(reordered)).not.toEqual(original);
  });
});
