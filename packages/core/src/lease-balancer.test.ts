import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseBalancer, type LeaseBalancerOptions } from './lease-balancer.js';
import { memoryLeaseStore } from './memory/leases.js';
import type { Lease, LeaseStore } from './ports.js';

const PARTITIONS = ['0', '1', '2', '3', '4', '5'];
const TTL = 300;
const RENEW = 30;

/** A balancer and what its hooks saw. */
interface Member {
  balancer: LeaseBalancer;
  owned: Set<string>;
  events: string[];
  errors: { error: unknown; partition?: string }[];
}

const running: LeaseBalancer[] = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((balancer) => balancer.stop()));
});

function member(store: LeaseStore, owner: string, options: Partial<LeaseBalancerOptions> = {}): Member {
  const owned = new Set<string>();
  const events: string[] = [];
  const errors: Member['errors'] = [];
  const balancer = new LeaseBalancer({
    store,
    group: 'g',
    owner,
    ttlMs: TTL,
    renewEveryMs: RENEW,
    partitions: async () => PARTITIONS,
    acquired: (partition) => {
      owned.add(partition);
      events.push(`acquired ${partition}`);
    },
    lost: (partition) => {
      owned.delete(partition);
      events.push(`lost ${partition}`);
    },
    handBack: async (partition) => {
      owned.delete(partition);
      events.push(`handBack ${partition}`);
    },
    onError: (error, partition) => errors.push({ error, partition }),
    ...options,
  });
  running.push(balancer);
  return { balancer, owned, events, errors };
}

/** Who holds each partition's lease in the store. */
async function holders(store: LeaseStore, group = 'g'): Promise<Record<string, string | undefined>> {
  return Object.fromEntries((await store.list(group)).map((lease) => [lease.partition, lease.owner]));
}

const sizes = (members: Member[]) => members.map((m) => m.balancer.owned().length).sort((a, b) => b - a);

/** Waits (with a deadline) until every partition has exactly one holder and the shares are `expected`. */
async function settled(members: Member[], expected: number[], partitions = PARTITIONS): Promise<void> {
  await vi.waitFor(
    () => {
      expect(sizes(members)).toEqual(expected);
      expect(members.flatMap((m) => m.balancer.owned()).sort()).toEqual([...partitions].sort());
    },
    { timeout: 5_000, interval: 5 },
  );
}

describe('LeaseBalancer', () => {
  it('refuses a renewal period that is not below the lease time', () => {
    expect(() => member(memoryLeaseStore(), 'a', { ttlMs: 100, renewEveryMs: 100 })).toThrow(/renewEveryMs must be > 0 and below ttlMs/);
  });

  it('shares six partitions 2/2/2, each with one owner, handing back through handBack only', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a');
    await a.balancer.start();
    expect([...a.owned].sort()).toEqual(PARTITIONS);
    expect(a.balancer.owned()).toEqual(PARTITIONS);
    const b = member(store, 'b');
    const c = member(store, 'c');
    await Promise.all([b.balancer.start(), c.balancer.start()]);
    await settled([a, b, c], [2, 2, 2]);
    const stored = await holders(store);
    for (const [name, m] of Object.entries({ a, b, c })) for (const partition of m.balancer.owned()) expect(stored[partition]).toBe(name);
    expect((await store.list('g#members')).map((lease) => lease.owner).sort()).toEqual(['a', 'b', 'c']);
    expect(a.events.filter((event) => event.startsWith('handBack')).length).toBeGreaterThanOrEqual(4);

    await c.balancer.stop();
    await settled([a, b], [3, 3]);
    expect((await store.list('g#members')).map((lease) => lease.owner).sort()).toEqual(['a', 'b']);
  });

  // Issue 8, finding 4: the old balancer split 4 partitions over 3 processes 2/2/0 and never took one from another.
  it('splits 4 partitions over 3 processes 2/1/1 by stealing from the most loaded', async () => {
    const store = memoryLeaseStore();
    const partitions = async () => ['0', '1', '2', '3'];
    const a = member(store, 'a', { partitions });
    const b = member(store, 'b', { partitions });
    await a.balancer.start();
    await b.balancer.start();
    await settled([a, b], [2, 2], ['0', '1', '2', '3']);
    const c = member(store, 'c', { partitions });
    await c.balancer.start();
    await settled([a, b, c], [2, 1, 1], ['0', '1', '2', '3']);
    // The one taken from a (the smallest name among the most loaded) was its highest, '1', and a was told at once.
    expect(c.balancer.owned()).toEqual(['1']);
    expect(a.events).toContain('lost 1');
  });

  it('a steal raises the epoch, and the old holder’s renewal fails: it reports the partition lost', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a', { partitions: async () => ['0'] });
    await a.balancer.start();
    const [before] = a.balancer.owned().map((partition) => a.balancer.fence([partition])[partition]);
    const seen = (await store.list('g')).find((lease) => lease.partition === '0') as Lease;
    const stolen = await store.take('g', '0', 'thief', seen);
    expect(stolen?.epoch).toBe((before as number) + 1);
    await vi.waitFor(() => expect(a.events).toEqual(['acquired 0', 'lost 0']), { timeout: 2_000, interval: 5 });
    expect(a.balancer.holds('0')).toBe(false);
    expect(() => a.balancer.fence(['0'])).toThrow(expect.objectContaining({ code: 'LEASE_LOST' }));
    expect(await holders(store)).toEqual({ '0': 'thief' });
  });

  it('never flaps: once fair, no partition changes hands', async () => {
    const store = memoryLeaseStore();
    const partitions = async () => ['0', '1', '2', '3', '4', '5', '6'];
    const members = ['a', 'b', 'c'].map((name) => member(store, name, { partitions }));
    for (const m of members) await m.balancer.start();
    await settled(members, [3, 2, 2], ['0', '1', '2', '3', '4', '5', '6']);
    const events = members.map((m) => m.events.length);
    const epochs = (await store.list('g')).map((lease) => lease.epoch);
    // Many renewal rounds (counted on a's lease counter, not by a sleep).
    const counter = async () => (await store.list('g#members')).find((lease) => lease.partition === 'a')?.counter ?? 0;
    const start = await counter();
    await vi.waitFor(async () => expect(await counter()).toBeGreaterThan(start + 20), { timeout: 5_000, interval: 5 });
    expect(members.map((m) => m.events.length)).toEqual(events);
    expect((await store.list('g')).map((lease) => lease.epoch)).toEqual(epochs);
  });

  it('releases a handed-back lease only after the hook resolves, renewing it until then', async () => {
    const store = memoryLeaseStore();
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const handedBack: string[] = [];
    const a = member(store, 'a', {
      partitions: async () => ['0', '1'],
      handBack: async (partition) => {
        handedBack.push(partition);
        await finishing;
      },
    });
    await a.balancer.start();
    const b = member(store, 'b', { partitions: async () => ['0', '1'] });
    await b.balancer.start();
    await vi.waitFor(() => expect(handedBack).toEqual(['1']), { timeout: 5_000, interval: 5 });
    // Renewed for longer than a lease (counted in renewals) while b waits: b never steals while a hands back.
    const counter = async () => (await store.list('g')).find((lease) => lease.partition === '1')?.counter ?? 0;
    const start = await counter();
    await vi.waitFor(async () => expect(await counter()).toBeGreaterThan(start + TTL / RENEW + 2), { timeout: 5_000, interval: 5 });
    expect(await holders(store)).toEqual({ '0': 'a', '1': 'a' });
    expect(a.balancer.holds('1')).toBe(true);
    expect(b.owned.size).toBe(0);
    finish();
    await vi.waitFor(() => expect([...b.owned]).toEqual(['1']), { timeout: 5_000, interval: 5 });
    expect(await holders(store)).toEqual({ '0': 'a', '1': 'b' });
    expect(a.balancer.owned()).toEqual(['0']);
    expect(a.errors).toEqual([]);
  });

  it('loses its leases by its own clock while the store hangs', async () => {
    const store = memoryLeaseStore();
    let hang = false;
    const never = new Promise<never>(() => {});
    const hanging: LeaseStore = {
      list: (...args) => (hang ? never : store.list(...args)),
      take: (...args) => (hang ? never : store.take(...args)),
      renew: (...args) => (hang ? never : store.renew(...args)),
      release: (...args) => (hang ? never : store.release(...args)),
      remove: (...args) => (hang ? never : store.remove(...args)),
      close: () => store.close(),
    };
    let clock = 0;
    const a = member(hanging, 'a', { partitions: async () => ['0', '1'], now: () => clock });
    await a.balancer.start();
    expect(a.balancer.holds('0')).toBe(true);
    hang = true;
    clock = TTL - 1;
    expect(a.balancer.holds('0')).toBe(true);
    clock = TTL;
    expect(a.balancer.holds('0')).toBe(false);
    await vi.waitFor(() => expect(a.events).toEqual(['acquired 0', 'acquired 1', 'lost 0', 'lost 1']), { timeout: 2_000, interval: 5 });
    expect(a.balancer.owned()).toEqual([]);
    // halt() waits for the round under way, which hangs: leave it behind.
    running.splice(running.indexOf(a.balancer), 1);
    void a.balancer.halt();
  });

  it('keeps renewing the other partitions when one renewal fails, and reports it with its partition', async () => {
    const store = memoryLeaseStore();
    let lost = false;
    const failing: LeaseStore = {
      ...store,
      renew: (lease) => (lease.partition === '0' ? Promise.reject(new Error('throttled')) : store.renew(lease)),
      // Once lost, '0' stays away, so the test sees the loss by the clock only once.
      take: (group, partition, owner, seen) =>
        partition === '0' && lost ? Promise.resolve(undefined) : store.take(group, partition, owner, seen),
    };
    const a = member(failing, 'a', {
      partitions: async () => ['0', '1'],
      lost: (partition) => {
        lost = true;
        a.events.push(`lost ${partition}`);
      },
    });
    await a.balancer.start();
    await vi.waitFor(() => expect(a.events).toEqual(['acquired 0', 'acquired 1', 'lost 0']), { timeout: 2_000, interval: 5 });
    expect(a.errors.length).toBeGreaterThan(0);
    expect(a.errors.every((e) => e.partition === '0' && (e.error as Error).message === 'throttled')).toBe(true);
    expect(a.balancer.holds('1')).toBe(true);
  });

  // Issue 8, finding 4: rows of crashed processes were never removed.
  it('removes the membership row of a process gone for a TTL and takes over its partitions', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a');
    const b = member(store, 'b');
    await a.balancer.start();
    await b.balancer.start();
    await settled([a, b], [3, 3]);
    // b "crashes": it stops renewing and never releases.
    running.splice(running.indexOf(b.balancer), 1);
    await b.balancer.halt();
    await vi.waitFor(async () => expect((await store.list('g#members')).map((lease) => lease.owner)).toEqual(['a']), {
      timeout: 5_000,
      interval: 5,
    });
    await vi.waitFor(() => expect(a.balancer.owned()).toEqual(PARTITIONS), { timeout: 5_000, interval: 5 });
    expect(Object.values(await holders(store))).toEqual(PARTITIONS.map(() => 'a'));
  });

  it('keeps the rows of partitions no longer listed: one that is listed again is taken at a higher epoch than any before', async () => {
    const store = memoryLeaseStore();
    let listed = ['0', '1'];
    const a = member(store, 'a', { partitions: async () => listed });
    await a.balancer.start();
    const before = a.balancer.fence(['1'])['1'] ?? Number.NaN;
    listed = ['0'];
    await vi.waitFor(() => expect(a.balancer.owned()).toEqual(['0']), { timeout: 5_000, interval: 5 });
    // Gone from the list for longer than a TTL: its row stays, since stores fence on its epoch.
    const renewalsOf0 = async () => (await store.list('g')).find((lease) => lease.partition === '0')?.counter ?? 0;
    const start = await renewalsOf0();
    await vi.waitFor(async () => expect(await renewalsOf0()).toBeGreaterThan(start + (2 * TTL) / RENEW), { timeout: 5_000, interval: 5 });
    expect(Object.keys(await holders(store)).sort()).toEqual(['0', '1']);
    listed = ['0', '1'];
    await vi.waitFor(() => expect(a.balancer.owned()).toEqual(['0', '1']), { timeout: 5_000, interval: 5 });
    expect(a.balancer.fence(['1'])['1']).toBeGreaterThan(before);
  });

  it('fence gives the epoch of each held lease; finished releases a partition for good', async () => {
    const store = memoryLeaseStore();
    let listed = ['0', '1'];
    const a = member(store, 'a', { partitions: async () => listed });
    await a.balancer.start();
    expect(a.balancer.fence(['0', '1'])).toEqual({ '0': 1, '1': 1 });
    await a.balancer.finished('1');
    expect(a.balancer.owned()).toEqual(['0']);
    expect(await holders(store)).toEqual({ '0': 'a', '1': undefined });
    expect(() => a.balancer.fence(['1'])).toThrow(/partition 1: this process holds no lease/);
    // Even while the host still lists it, a finished partition is not taken again.
    const counter = async () => (await store.list('g')).find((lease) => lease.partition === '0')?.counter ?? 0;
    const start = await counter();
    await vi.waitFor(async () => expect(await counter()).toBeGreaterThan(start + 3), { timeout: 5_000, interval: 5 });
    expect(a.balancer.owned()).toEqual(['0']);
    expect(a.events).toEqual(['acquired 0', 'acquired 1']);
    listed = ['0'];
  });

  it('refresh() beats now, not at the next renewal; during a beat it beats once more after it, shared by the callers', async () => {
    const store = memoryLeaseStore();
    let listed = ['0'];
    let calls = 0;
    let gate: Promise<void> | undefined;
    const a = member(store, 'a', {
      ttlMs: 600_000,
      renewEveryMs: 300_000,
      partitions: async () => {
        calls++;
        const seen = listed;
        await gate;
        return seen;
      },
    });
    await a.balancer.start();
    expect(calls).toBe(1);
    await a.balancer.finished('0');
    listed = ['1'];
    await a.balancer.refresh();
    expect(calls).toBe(2);
    expect(a.balancer.owned()).toEqual(['1']);
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const underWay = a.balancer.refresh();
    await vi.waitFor(() => expect(calls).toBe(3), { timeout: 5_000, interval: 1 });
    listed = ['1', '2'];
    const first = a.balancer.refresh();
    const second = a.balancer.refresh();
    gate = undefined;
    open();
    await Promise.all([underWay, first, second]);
    expect(calls).toBe(4);
    expect(a.balancer.owned()).toEqual(['1', '2']);
  });

  it('hands back a partition that is no longer listed', async () => {
    const store = memoryLeaseStore();
    let listed = ['0', '1'];
    const a = member(store, 'a', { partitions: async () => listed });
    await a.balancer.start();
    listed = ['0'];
    await vi.waitFor(() => expect(a.balancer.owned()).toEqual(['0']), { timeout: 5_000, interval: 5 });
    expect(a.events).toEqual(['acquired 0', 'acquired 1', 'handBack 1']);
  });

  it('with its clock 60 s ahead, a process never holds a partition another holds for longer than a renewal interval', async () => {
    const store = memoryLeaseStore();
    const skew = 60_000;
    const a = member(store, 'a');
    const b = member(store, 'b', { now: () => performance.now() + skew });
    await a.balancer.start();
    await b.balancer.start();
    const doubleSince = new Map<string, number>();
    let longest = 0;
    const check = () => {
      const now = performance.now();
      for (const partition of PARTITIONS) {
        if (a.balancer.holds(partition) && b.balancer.holds(partition)) {
          const since = doubleSince.get(partition) ?? now;
          doubleSince.set(partition, since);
          longest = Math.max(longest, now - since);
        } else doubleSince.delete(partition);
      }
    };
    await vi.waitFor(
      () => {
        check();
        expect(sizes([a, b])).toEqual([3, 3]);
      },
      { timeout: 5_000, interval: 2 },
    );
    // Keep watching for several lease times, counted in renewals of b's membership.
    const counter = async () => (await store.list('g#members')).find((lease) => lease.partition === 'b')?.counter ?? 0;
    const start = await counter();
    await vi.waitFor(
      async () => {
        check();
        expect(await counter()).toBeGreaterThan(start + (3 * TTL) / RENEW);
      },
      { timeout: 10_000, interval: 2 },
    );
    expect(longest).toBeLessThanOrEqual(RENEW);
    expect(sizes([a, b])).toEqual([3, 3]);
  });

  it('stop() releases every lease and removes the membership', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a');
    await a.balancer.start();
    expect(await store.list('g')).toHaveLength(6);
    await a.balancer.stop();
    expect((await store.list('g')).every((lease) => lease.owner === undefined)).toBe(true);
    expect(await store.list('g#members')).toEqual([]);
    expect(a.balancer.owned()).toEqual([]);
  });
});
