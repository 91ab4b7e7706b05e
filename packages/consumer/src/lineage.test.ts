import {
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLeaseStore,
  memoryLog,
  PARTITION_END,
  t,
} from '@riverlog/core';
import { LocalAssignment } from '@riverlog/core/backend';
import { describe, expect, it, vi } from 'vitest';
import { createConsumer } from './consumer.js';
import type { LeaseOptions } from './types.js';

const catalog = defineCatalog([defineEvent('tick', { data: { seq: t.number } })]);
const SUBJECTS = 24;
let next = 0;
/** `count` events over all subjects, each subject's `seq` counting up across calls. */
const ticks = (count: number): Envelope[] =>
  Array.from({ length: count }, () => {
    const n = next++;
    return createEvent(catalog, 'tick', `s${n % SUBJECTS}`, { seq: Math.floor(n / SUBJECTS) }, { source: 'lineage-test' });
  });

interface Seen {
  readonly id: string;
  readonly subject: string;
  readonly seq: number;
  readonly partition: string;
  readonly at: number;
}

/**
 * Splits and merges the log's partitions while a consumer reads it: parents
 * are finished before children start, no record is missed, each subject's
 * events are handled in order (issue 9 finding 3, lineage).
 */
async function reshardDuringRun(leases?: LeaseOptions) {
  next = 0;
  const log = memoryLog({ partitions: 2 });
  const checkpoints = memoryCheckpointStore();
  const seen: Seen[] = [];
  const consumer = createConsumer({
    log,
    catalog,
    group: 'lineage',
    checkpoints,
    deadLetters: memoryDeadLetters(),
    checkpointEvery: { records: 7, ms: 20 },
    ...(leases ? { leases } : {}),
    handlers: {
      tick: async (event, { position }) => {
        if (seen.length % 13 === 0) await new Promise((resolve) => setImmediate(resolve));
        seen.push({ id: event.id, subject: event.subject, seq: event.data.seq, partition: position.partition, at: seen.length });
      },
    },
  });
  const appended: Envelope[] = [];
  const append = async (events: Envelope[]) => {
    appended.push(...events);
    for (let i = 0; i < events.length; i += 20) await log.append(events.slice(i, i + 20));
  };
  await append(ticks(200));
  await consumer.start();
  await append(ticks(100));
  const [left, right] = await log.split('0'); // while the consumer is in the middle of partition 0
  await append(ticks(200));
  const merged = await log.merge(right?.id as string, '1');
  await append(ticks(200));
  await consumer.caughtUp({ timeoutMs: 20_000 });
  await consumer.stop();

  // No record missed.
  expect(new Set(seen.map((s) => s.id))).toEqual(new Set(appended.map((e) => e.id)));
  // Per subject, in order (a record handled again after a restart would repeat, never go back).
  const bySubject = new Map<string, number[]>();
  for (const s of seen) bySubject.set(s.subject, [...(bySubject.get(s.subject) ?? []), s.seq]);
  for (const [subject, seqs] of bySubject) expect(seqs, subject).toEqual([...seqs].sort((x, y) => x - y));
  // Parents before children.
  const first = (partition: string) => Math.min(...seen.filter((s) => s.partition === partition).map((s) => s.at));
  const last = (partition: string) => Math.max(...seen.filter((s) => s.partition === partition).map((s) => s.at));
  const infos = await log.partitions();
  for (const info of infos) {
    if (!seen.some((s) => s.partition === info.id)) continue;
    for (const parent of info.parents) expect(last(parent), `${parent} before ${info.id}`).toBeLessThan(first(info.id));
  }
  expect([...(infos.find((p) => p.id === merged.id)?.parents ?? [])].sort()).toEqual(['1', right?.id].sort());
  expect(seen.some((s) => s.partition === left?.id)).toBe(true);
  expect(seen.some((s) => s.partition === merged.id)).toBe(true);
  // Closed partitions read to their end are checkpointed as such.
  const stored = await checkpoints.load('lineage');
  for (const closed of infos.filter((p) => p.closed)) expect(stored[closed.id], closed.id).toBe(PARTITION_END);
}

describe('lineage: partitions that split and merge while the consumer runs', () => {
  it('without leases: parents before children, no record missed, per-subject order kept', () => reshardDuringRun());
  it('with fenced leases: the same', () => reshardDuringRun({ store: memoryLeaseStore(), ttlMs: 300, owner: 'only' }));
});

/** Waits until `condition` holds (checking every 5 ms on setTimeout, which the test below leaves real), or fails naming `what`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('lineage without leases: children start when their parent ends', () => {
  it("starts a split partition's children at once (the assignment refreshes), not at its next poll", async () => {
    // The assignment's poll timer never fires by itself: only a refresh can start the children.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const refresh = vi.spyOn(LocalAssignment.prototype, 'refresh');
    try {
      next = 0;
      const log = memoryLog({ partitions: 1 });
      const handled: string[] = [];
      const started: string[] = [];
      const consumer = createConsumer({
        log,
        catalog,
        group: 'refresh',
        checkpoints: memoryCheckpointStore(),
        deadLetters: memoryDeadLetters(),
        checkpointEvery: { records: 1 },
        handlers: { tick: (_event, { position }) => void handled.push(position.partition) },
        hooks: { onPartitionStart: ({ partition }) => void started.push(partition) },
      });
      await log.append(ticks(20));
      await consumer.start();
      await until(() => handled.length === 20, 'the events of partition 0');
      expect(refresh).not.toHaveBeenCalled();
      const children = await log.split('0');
      await log.append(ticks(20));
      await until(() => handled.length === 40, 'the events of the children');
      expect(refresh).toHaveBeenCalled();
      expect(started.sort()).toEqual(['0', ...children.map((c) => c.id)].sort());
      await consumer.stop();
    } finally {
      refresh.mockRestore();
      vi.useRealTimers();
    }
  });
});
