import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseBalancer, type LeaseBalancerOptions, WHOLE_GROUP } from './lease-balancer.js';
import { memoryLeaseStore } from './memory/memory-stores.js';
import type { LeaseStore } from './ports.js';

const PARTITIONS = ['0', '1', '2', '3', '4', '5'];

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
    ttlMs: 300,
    renewEveryMs: 30,
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
async function holders(store: LeaseStore, group = 'g'): Promise<Record<string, string>> {
  return Object.fromEntries((await store.list(group)).map((lease) => [lease.partition, lease.owner]));
}

describe('LeaseBalancer', () => {
  it('refuses a renewal period that is not below the lease time', () => {
    expect(() => member(memoryLeaseStore(), 'a', { ttlMs: 100, renewEveryMs: 100 })).toThrow(/renewEveryMs must be > 0 and below ttlMs/);
  });

  it('shares the partitions fairly among three owners, each partition with one owner', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a');
    await a.balancer.start();
    expect([...a.owned].sort()).toEqual(PARTITIONS);
    expect(a.balancer.owned()).toEqual(PARTITIONS);
    const b = member(store, 'b');
    const c = member(store, 'c');
    await Promise.all([b.balancer.start(), c.balancer.start()]);
    await vi.waitFor(
      () => {
        for (const m of [a, b, c]) expect(m.owned.size).toBe(2);
      },
      { timeout: 5000 },
    );
    expect([...a.owned, ...b.owned, ...c.owned].sort()).toEqual(PARTITIONS);
    const stored = await holders(store);
    for (const m of [a, b, c]) for (const partition of m.owned) expect(stored[partition]).toBe(m === a ? 'a' : m === b ? 'b' : 'c');
    // The members are counted from their membership leases.
    expect((await store.list('g#members')).map((lease) => lease.owner).sort()).toEqual(['a', 'b', 'c']);
    // a gave back the highest partitions, each only through handBack.
    expect(a.events.filter((event) => event.startsWith('handBack')).sort()).toEqual([
      'handBack 2',
      'handBack 3',
      'handBack 4',
      'handBack 5',
    ]);
    expect(a.events.some((event) => event.startsWith('lost'))).toBe(false);

    await c.balancer.stop();
    await vi.waitFor(() => expect(a.owned.size + b.owned.size).toBe(6), { timeout: 5000 });
    expect(a.owned.size).toBe(3);
    expect(await store.list('g#members')).toHaveLength(2);
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
    await vi.waitFor(() => expect(handedBack).toEqual(['1']), { timeout: 5000 });
    // Longer than a lease: still a's, renewed, and b waits.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await holders(store)).toEqual({ '0': 'a', '1': 'a' });
    expect(a.balancer.holds('1')).toBe(true);
    expect(b.owned.size).toBe(0);
    finish();
    await vi.waitFor(() => expect([...b.owned]).toEqual(['1']), { timeout: 5000 });
    expect(await holders(store)).toEqual({ '0': 'a', '1': 'b' });
    expect(a.balancer.owned()).toEqual(['0']);
    expect(a.errors).toEqual([]);
  });

  it('loses its leases by its own clock while the store hangs', async () => {
    const store = memoryLeaseStore();
    let hang = false;
    const never = new Promise<never>(() => {});
    const hanging: LeaseStore = {
      acquire: (...args) => (hang ? never : store.acquire(...args)),
      renew: (...args) => (hang ? never : store.renew(...args)),
      release: (...args) => (hang ? never : store.release(...args)),
      list: (...args) => (hang ? never : store.list(...args)),
      close: () => store.close(),
    };
    const a = member(hanging, 'a', { partitions: async () => ['0', '1'] });
    await a.balancer.start();
    expect(a.balancer.holds('0')).toBe(true);
    hang = true;
    const hungAt = Date.now();
    await vi.waitFor(() => expect(a.events).toEqual(['acquired 0', 'acquired 1', 'lost 0', 'lost 1']), { timeout: 5000 });
    // Within a lease time and a renewal period of the last good renewal.
    expect(Date.now() - hungAt).toBeLessThan(300 + 30 + 200);
    expect(a.balancer.holds('0')).toBe(false);
    expect(a.balancer.owned()).toEqual([]);
    // halt() waits for the round under way, which hangs: leave it behind.
    running.splice(running.indexOf(a.balancer), 1);
    void a.balancer.halt();
  });

  it('keeps renewing the other partitions when one renewal fails, and reports it with its partition', async () => {
    const store = memoryLeaseStore();
    let failingTaken = false;
    const failing: LeaseStore = {
      ...store,
      renew: (group, partition, owner, ttlMs) =>
        partition === '0' ? Promise.reject(new Error('throttled')) : store.renew(group, partition, owner, ttlMs),
      acquire: (group, partition, owner, ttlMs) =>
        // Once lost, '0' stays away, so the test sees the loss by the clock only once.
        partition === '0' && owner === 'a' && failingTaken ? Promise.resolve(false) : store.acquire(group, partition, owner, ttlMs),
    };
    const a = member(failing, 'a', {
      partitions: async () => ['0', '1'],
      lost: (partition) => {
        failingTaken = true;
        a.events.push(`lost ${partition}`);
      },
    });
    await a.balancer.start();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(a.errors.length).toBeGreaterThan(0);
    expect(a.errors.every((e) => e.partition === '0' && (e.error as Error).message === 'throttled')).toBe(true);
    expect(a.events).toEqual(['acquired 0', 'acquired 1', 'lost 0']);
    expect(a.balancer.holds('1')).toBe(true);
  });

  it('reports a lease the store refuses to renew as lost', async () => {
    let clock = Date.now();
    const store = memoryLeaseStore(() => clock);
    const a = member(store, 'a', { partitions: async () => ['0'] });
    await a.balancer.start();
    // The store's clock says a's lease ran out, and someone else took it.
    clock += 10_000;
    expect(await store.acquire('g', '0', 'intruder', 60_000)).toBe(true);
    await vi.waitFor(() => expect(a.events).toEqual(['acquired 0', 'lost 0']), { timeout: 5000 });
    expect(a.balancer.holds('0')).toBe(false);
  });

  it('exclusive: one lease for the whole group, the standby takes over when the holder stops', async () => {
    const store = memoryLeaseStore();
    const partitions = vi.fn(async () => PARTITIONS);
    const a = member(store, 'a', { exclusive: true, partitions });
    const b = member(store, 'b', { exclusive: true, partitions });
    await a.balancer.start();
    await b.balancer.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...a.owned]).toEqual([WHOLE_GROUP]);
    expect(b.owned.size).toBe(0);
    expect(await holders(store)).toEqual({ [WHOLE_GROUP]: 'a' });
    expect(await store.list('g#members')).toEqual([]);
    expect(partitions).not.toHaveBeenCalled();
    await a.balancer.stop();
    await vi.waitFor(() => expect([...b.owned]).toEqual([WHOLE_GROUP]), { timeout: 5000 });
    await b.balancer.stop();
    expect(await store.list('g')).toEqual([]);
  });

  it('stop() releases every lease and the membership', async () => {
    const store = memoryLeaseStore();
    const a = member(store, 'a');
    await a.balancer.start();
    expect(await store.list('g')).toHaveLength(6);
    await a.balancer.stop();
    expect(await store.list('g')).toEqual([]);
    expect(await store.list('g#members')).toEqual([]);
    expect(a.balancer.owned()).toEqual([]);
  });
});
