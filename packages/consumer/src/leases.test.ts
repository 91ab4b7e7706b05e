import {
  type CheckpointStore,
  createEvent,
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
const ping = (subject: string, n: number) => createEvent(catalog, 'ping', subject, { n }, { source: 'test' });

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
  stops: { partition: string; reason: PartitionStopReason; code?: string }[];
  errors: { stage: string; code: string | undefined }[];
}

function member(
  log: EventLog,
  leases: LeaseStore,
  owner: string,
  options: { handle?: (n: number) => Promise<void> | void; hooks?: ConsumerHooks; ttlMs?: number; checkpoints?: CheckpointStore } = {},
): Member {
  const handled: Member['handled'] = [];
  const stops: Member['stops'] = [];
  const errors: Member['errors'] = [];
  const consumer = createConsumer({
    log,
    catalog,
    group: 'shared',
    checkpoints: options.checkpoints ?? sharedCheckpoints,
    deadLetters: memoryDeadLetters(),
    checkpointEvery: { records: 1 },
    leases: { store: leases, ttlMs: options.ttlMs ?? 300, owner },
    handlers: {
      ping: async (event, { position }) => {
        await options.handle?.(event.data.n);
        handled.push({ ...position, n: event.data.n });
      },
    },
    hooks: {
      ...options.hooks,
      onPartitionStop: ({ partition, reason, error }) => {
        const code = (error as { code?: string } | undefined)?.code;
        stops.push(code === undefined ? { partition, reason } : { partition, reason, code });
      },
      onError: (error, { stage }) => errors.push({ stage, code: (error as { code?: string }).code }),
    },
  });
  running.push(consumer);
  return { consumer, handled, stops, errors };
}

let sharedCheckpoints = memoryCheckpointStore();

describe('consumer groups with fenced leases', () => {
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
    expect(a.consumer.status().assignment).toBe('leases');
    expect(a.consumer.status().partitions.every((p) => (p.epoch ?? 0) >= 1)).toBe(true);
    await log.append(Array.from({ length: 40 }, (_, n) => ping(`s${n % 10}`, n)));
    await a.consumer.caughtUp({ timeoutMs: 5000 });
    await b.consumer.caughtUp({ timeoutMs: 5000 });
    const all = [...a.handled, ...b.handled].map((h) => h.n).sort((x, y) => x - y);
    expect(new Set(all)).toEqual(new Set(Array.from({ length: 40 }, (_, n) => n)));
  });

  it('takes over the partitions of a member that stops renewing, from its checkpoint', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 2 });
    const leases = memoryLeaseStore();
    let dead = false;
    // The lease store as a frozen or crashed process sees it: every call fails.
    const down = () => Promise.reject(new Error('process is dead'));
    const deadable: LeaseStore = {
      list: (...args) => (dead ? down() : leases.list(...args)),
      take: (...args) => (dead ? down() : leases.take(...args)),
      renew: (...args) => (dead ? down() : leases.renew(...args)),
      release: (...args) => (dead ? down() : leases.release(...args)),
      remove: (...args) => (dead ? down() : leases.remove(...args)),
      close: () => leases.close(),
    };
    const a = member(log, deadable, 'a');
    await a.consumer.start();
    expect(a.consumer.assigned()).toEqual(['0', '1']);
    await log.append([ping(subjectIn(0, 2), 1), ping(subjectIn(1, 2), 2)]);
    await a.consumer.caughtUp({ timeoutMs: 5000 });

    const b = member(log, leases, 'b');
    await b.consumer.start();
    await vi.waitFor(() => expect(b.consumer.assigned()).toHaveLength(1), { timeout: 5000 });
    dead = true;
    // a's leases run out by its own clock: it stops working on them without being told.
    await vi.waitFor(() => expect(a.consumer.assigned()).toEqual([]), { timeout: 5000 });
    await vi.waitFor(() => expect(b.consumer.assigned()).toEqual(['0', '1']), { timeout: 5000 });
    expect(a.stops.map((s) => s.reason)).toContain('lease-lost');

    await log.append([ping(subjectIn(0, 2), 3), ping(subjectIn(1, 2), 4)]);
    await b.consumer.caughtUp({ timeoutMs: 5000 });
    expect(a.handled.map((h) => h.n).sort()).toEqual([1, 2]);
    // b resumed after a's checkpoints: nothing a finished is handled again.
    expect(b.handled.map((h) => h.n).sort()).toEqual([3, 4]);
  });

  it('a partition taken over (the new owner claimed it) stops at once on the refused save, and its pending checkpoint is dropped (issue 8 finding 3)', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 1 });
    const leases = memoryLeaseStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered = false;
    // A long lease: a's own renewals will not notice the takeover during the test; only the fenced save does.
    const a = member(log, leases, 'a', {
      ttlMs: 60_000,
      handle: async (n) => {
        if (n === 2) {
          entered = true;
          await gate;
        }
      },
    });
    await a.consumer.start();
    await log.append([ping('x', 1), ping('x', 2)]);
    await vi.waitFor(() => expect(entered).toBe(true), { timeout: 5000 });
    expect(await sharedCheckpoints.load('shared')).toEqual({ '0': '0' });
    // Another process takes the partition over (a was paused past its lease, as it sees it) and claims it.
    const seen = (await leases.list('shared')).find((lease) => lease.partition === '0');
    const taken = await leases.take('shared', '0', 'intruder', seen);
    expect(taken?.epoch).toBe((seen?.epoch ?? 0) + 1);
    await sharedCheckpoints.save('shared', {}, { '0': taken?.epoch ?? 0 });
    release();
    await vi.waitFor(() => expect(a.stops).toEqual([{ partition: '0', reason: 'lease-lost', code: 'LEASE_LOST' }]), { timeout: 5000 });
    expect(a.errors).toContainEqual({ stage: 'checkpoint', code: 'LEASE_LOST' });
    // The record in flight finished, but its checkpoint was refused and dropped; the partition has no worker left.
    expect(a.handled.map((h) => h.n)).toEqual([1, 2]);
    expect(a.consumer.status().partitions).toEqual([]);
    expect(await sharedCheckpoints.load('shared')).toEqual({ '0': '0' });
    expect(a.consumer.assigned()).toEqual([]);
  });

  it('claims a partition when it takes it, so the late save of a paused former owner is refused', async () => {
    const checkpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 1 });
    const leases = memoryLeaseStore();
    // A former owner at epoch 1, paused before its last save.
    const former = await leases.take('shared', '0', 'former', undefined);
    await checkpoints.save('shared', { '0': '0' }, { '0': former?.epoch ?? 0 });
    const b = member(log, leases, 'b', { checkpoints });
    await log.append([ping('x', 1), ping('x', 2)]);
    await b.consumer.start();
    // b takes the lease over once the former owner's counter has not moved for the TTL (b's clock).
    await vi.waitFor(() => expect(b.consumer.assigned()).toEqual(['0']), { timeout: 5000 });
    await vi.waitFor(() => expect(b.consumer.status().partitions[0]?.state).toBe('running'), { timeout: 5000 });
    // The former owner wakes up and saves: refused, although b may not have saved progress yet.
    await expect(checkpoints.save('shared', { '0': '1' }, { '0': former?.epoch ?? 0 })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await b.consumer.caughtUp({ timeoutMs: 5000 });
    expect(b.handled.map((h) => h.n)).toEqual([2]);
  });

  it('releases its leases and membership on stop', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const log = memoryLog({ partitions: 3 });
    const leases = memoryLeaseStore();
    const a = member(log, leases, 'a');
    await a.consumer.start();
    expect(a.consumer.assigned()).toEqual(['0', '1', '2']);
    await a.consumer.stop();
    expect((await leases.list('shared')).filter((lease) => lease.owner !== undefined)).toEqual([]);
    expect((await leases.list('shared#members')).filter((lease) => lease.owner !== undefined)).toEqual([]);
  });

  it('a stop() during start() leaves no lease behind', async () => {
    sharedCheckpoints = memoryCheckpointStore();
    const leases = memoryLeaseStore();
    const a = member(memoryLog({ partitions: 2 }), leases, 'a');
    const starting = a.consumer.start();
    await a.consumer.stop();
    await starting;
    expect(a.consumer.assigned()).toEqual([]);
    expect((await leases.list('shared')).filter((lease) => lease.owner !== undefined)).toEqual([]);
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
        const held = (await leases.list('shared')).filter((lease) => lease.owner !== undefined);
        expect(held).toHaveLength(2);
        const working = [a, b, c].flatMap((m) => m.consumer.assigned());
        expect(working.sort()).toEqual(['0', '1']);
      },
      { timeout: 5000 },
    );
  });
});
