import {
  defineCatalog,
  defineEvent,
  type EventLog,
  type LeaseStore,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLeaseStore,
  memoryLog,
  partitionForSubject,
  t,
} from '@riverlog/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConsumer } from './consumer.js';
import type { Consumer, ConsumerHooks, PartitionStopReason } from './types.js';

const Ping = defineEvent('ping', { data: { n: t.number } });
const catalog = defineCatalog([Ping]);
const ping = (subject: string, n: number) => catalog.create('ping', subject, { n }, { source: 'test' });

function subjectIn(partition: number, count: number, prefix = 's'): string {
  for (let i = 0; ; i++) if (partitionForSubject(`${prefix}${i}`, count) === partition) return `${prefix}${i}`;
}

const running: Consumer[] = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((consumer) => consumer.stop()));
});

interface Member {
  consumer: Consumer;
  handled: { partition: string; offset: string; n: number }[];
  stops: { partition: string; reason: PartitionStopReason }[];
}

function member(
  log: EventLog,
  leases: LeaseStore,
  owner: string,
  options: { handle?: (n: number) => Promise<void> | void; hooks?: ConsumerHooks } = {},
): Member {
  const handled: Member['handled'] = [];
  const stops: Member['stops'] = [];
  const consumer = createConsumer({
    log,
    catalog,
    group: 'shared',
    checkpoints: sharedCheckpoints,
    deadLetter: memoryDeadLetters(),
    checkpointEvery: { records: 1 },
    leases: { store: leases, ttlMs: 300, renewEveryMs: 50, owner },
    handlers: {
      ping: async (event, { position }) => {
        await options.handle?.(event.data.n);
        handled.push({ ...position, n: event.data.n });
      },
    },
    hooks: { ...options.hooks, onPartitionStop: (stop) => stops.push(stop) },
  });
  running.push(consumer);
  return { consumer, handled, stops };
}

let sharedCheckpoints = memoryCheckpointStore();

describe('consumer groups with leases', () => {
  it('shares the partitions fairly and handles every event', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 4 });
    const leases = memoryLeaseStore();
    const a = member(log, leases, 'a');
    const b = member(log, leases, 'b');
    await a.consumer.start();
    await b.consumer.start();
    await vi.waitFor(
      () => {
        expect(a.consumer.assigned()).toHaveLength(2);
        expect(b.consumer.assigned()).toHaveLength(2);
      },
      { timeout: 5000 },
    );
    expect([...a.consumer.assigned(), ...b.consumer.assigned()].sort()).toEqual(['0', '1', '2', '3']);
    await log.append(Array.from({ length: 40 }, (_, n) => ping(`s${n % 10}`, n)));
    await a.consumer.drain({ timeoutMs: 5000 });
    await b.consumer.drain({ timeoutMs: 5000 });
    const all = [...a.handled, ...b.handled].map((h) => h.n).sort((x, y) => x - y);
    expect(new Set(all)).toEqual(new Set(Array.from({ length: 40 }, (_, n) => n)));
    expect(await leases.list('shared')).toHaveLength(4);
  });

  it('takes over the partitions of a member that stops renewing, from its checkpoint', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 2 });
    const leases = memoryLeaseStore();
    let dead = false;
    // The lease store as a frozen or crashed process sees it: every call fails.
    const deadable: LeaseStore = {
      acquire: (...args) => (dead ? Promise.reject(new Error('process is dead')) : leases.acquire(...args)),
      renew: (...args) => (dead ? Promise.reject(new Error('process is dead')) : leases.renew(...args)),
      release: (...args) => (dead ? Promise.reject(new Error('process is dead')) : leases.release(...args)),
      list: (...args) => (dead ? Promise.reject(new Error('process is dead')) : leases.list(...args)),
      close: () => leases.close(),
    };
    const a = member(log, deadable, 'a');
    await a.consumer.start();
    expect(a.consumer.assigned()).toEqual(['0', '1']);
    await log.append([ping(subjectIn(0, 2), 1), ping(subjectIn(1, 2), 2)]);
    await a.consumer.drain({ timeoutMs: 5000 });

    const b = member(log, leases, 'b');
    await b.consumer.start();
    await vi.waitFor(() => expect(b.consumer.assigned()).toHaveLength(1), { timeout: 5000 });
    dead = true;
    // a's leases run out by its own clock: it stops working on them without being told.
    await vi.waitFor(() => expect(a.consumer.assigned()).toEqual([]), { timeout: 5000 });
    await vi.waitFor(() => expect(b.consumer.assigned()).toEqual(['0', '1']), { timeout: 5000 });
    expect(a.stops.map((s) => s.reason)).toContain('lease-lost');

    await log.append([ping(subjectIn(0, 2), 3), ping(subjectIn(1, 2), 4)]);
    await b.consumer.drain({ timeoutMs: 5000 });
    expect(a.handled.map((h) => h.n).sort()).toEqual([1, 2]);
    // b resumed after a's checkpoints: nothing a finished is handled again.
    expect(b.handled.map((h) => h.n).sort()).toEqual([3, 4]);
  });

  it('stops a partition whose lease was taken, after its in-flight record only', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 1 });
    let clock = Date.now();
    const leases = memoryLeaseStore(() => clock);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = false;
    const a = member(log, leases, 'a', {
      handle: async (n) => {
        if (n === 1) {
          entered = true;
          await gate;
        }
      },
    });
    await a.consumer.start();
    await log.append([ping('x', 1), ping('x', 2)]);
    try {
      await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5000 });
      // Someone else takes the partition (the store's clock says a's lease ran out).
      clock += 10_000;
      expect(await leases.acquire('shared', '0', 'intruder', 60_000)).toBe(true);
      await vi.waitFor(() => expect(a.consumer.assigned()).toEqual([]), { timeout: 5000 });
      // Its in-flight record is still running: the partition is not stopped yet.
      expect(a.stops).toEqual([]);
    } finally {
      release();
    }
    await vi.waitFor(() => expect(a.stops).toEqual([{ partition: '0', reason: 'lease-lost' }]), { timeout: 5000 });
    expect(a.handled.map((h) => h.n)).toEqual([1]);
    expect(await sharedCheckpoints.load('shared')).toEqual({ '0': '0' });
  });

  it('releases its leases and membership on stop', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 3 });
    const leases = memoryLeaseStore();
    const a = member(log, leases, 'a');
    await a.consumer.start();
    expect(a.consumer.assigned()).toEqual(['0', '1', '2']);
    await a.consumer.stop();
    expect(await leases.list('shared')).toEqual([]);
    expect(await leases.list('shared#members')).toEqual([]);
  });

  it('a stop() during start() leaves no lease behind', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const leases = memoryLeaseStore();
    const a = member(memoryLog({ partitions: 2 }), leases, 'a');
    const starting = a.consumer.start();
    await a.consumer.stop();
    await starting;
    expect(a.consumer.assigned()).toEqual([]);
    expect(await leases.list('shared')).toEqual([]);
    expect(await leases.list('shared#members')).toEqual([]);
  });

  it('with more members than partitions, works on each partition exactly once', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 2 });
    const leases = memoryLeaseStore();
    const a = member(log, leases, 'a');
    const b = member(log, leases, 'b');
    const c = member(log, leases, 'c');
    await Promise.all([a.consumer.start(), b.consumer.start(), c.consumer.start()]);
    await vi.waitFor(
      async () => {
        const held = (await leases.list('shared')).map((lease) => lease.owner);
        expect(held).toHaveLength(2);
        const working = [a, b, c].flatMap((m) => m.consumer.assigned());
        expect(working.sort()).toEqual(['0', '1']);
      },
      { timeout: 5000 },
    );
  });
});
