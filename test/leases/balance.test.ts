// Issue 8, finding 4: fair shares (⌊N/M⌋ or ⌈N/M⌉ within one TTL of each change) and clean-up of
// crashed members, with every process on its own connection to one SQLite lease file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseStore } from '@riverlog/core';
import { LeaseBalancer } from '@riverlog/core/backend';
import { sqliteLeaseStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const TTL = 1_500;
const RENEW = 150;
const PARTITIONS = Array.from({ length: 12 }, (_, i) => String(i));

interface Process {
  readonly name: string;
  readonly balancer: LeaseBalancer;
  readonly store: LeaseStore;
}

let dir: string;
let processes: Process[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-balance-'));
  processes = [];
});

afterEach(async () => {
  for (const process of processes.splice(0)) {
    await process.balancer.stop();
    await process.store.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a process: its own connection to the lease file, its own balancer. */
async function start(name: string, partitions = PARTITIONS, now?: () => number): Promise<Process> {
  const store = sqliteLeaseStore({ path: join(dir, 'leases.db') });
  const balancer = new LeaseBalancer({
    store,
    group: 'balance',
    owner: name,
    ttlMs: TTL,
    renewEveryMs: RENEW,
    partitions: async () => partitions,
    ...(now ? { now } : {}),
  });
  const process = { name, balancer, store };
  processes.push(process);
  await balancer.start();
  return process;
}

/** Stops a process cleanly: it releases its leases and leaves the group. */
async function leave(process: Process): Promise<void> {
  processes.splice(processes.indexOf(process), 1);
  await process.balancer.stop();
  await process.store.close();
}

/** Every partition has exactly one holder (by `holds()`), and every live process holds ⌊N/M⌋ or ⌈N/M⌉. */
function fair(live: readonly Process[], partitions = PARTITIONS): boolean {
  const low = Math.floor(partitions.length / live.length);
  const high = Math.ceil(partitions.length / live.length);
  const held = live.flatMap((process) => process.balancer.owned());
  const once = held.length === partitions.length && new Set(held).size === partitions.length;
  return once && live.every((process) => [low, high].includes(process.balancer.owned().length));
}

const shares = (live: readonly Process[]) => live.map((process) => `${process.name}:${process.balancer.owned().length}`).join(' ');

async function fairWithin(live: readonly Process[], timeoutMs: number, what: string, partitions = PARTITIONS): Promise<void> {
  try {
    await until(() => fair(live, partitions), what, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; shares were ${shares(live)}`);
  }
}

describe('LeaseBalancer on SQLite leases', () => {
  it('12 partitions, members joining and leaving 1 → 4 → 3 → 1: fair shares within one TTL of each change', async () => {
    const a = await start('a');
    await fairWithin([a], TTL, '1 member holding all 12');

    const others = await Promise.all(['b', 'c', 'd'].map((name) => start(name)));
    await fairWithin([a, ...others], TTL, '4 members holding 3 each');

    const [b, c, d] = others as [Process, Process, Process];
    await leave(d);
    await fairWithin([a, b, c], TTL, '3 members holding 4 each');

    await Promise.all([leave(b), leave(c)]);
    await fairWithin([a], TTL, '1 member holding all 12 again');
    expect((await a.store.list('balance#members')).map((lease) => lease.owner)).toEqual(['a']);
  });

  it('4 partitions over 3 members end 2/1/1 (the old balancer left them 2/2/0)', async () => {
    const four = PARTITIONS.slice(0, 4);
    const a = await start('a', four);
    const b = await start('b', four);
    await fairWithin([a, b], TTL, '2 members holding 2 each', four);
    const c = await start('c', four);
    await fairWithin([a, b, c], TTL, '3 members holding 2/1/1', four);
    expect([a, b, c].map((process) => process.balancer.owned().length).sort()).toEqual([1, 1, 2]);
  });

  it('removes the membership row of a crashed member, and the others take over its partitions', async () => {
    const [a, b, c] = [await start('a'), await start('b'), await start('c')];
    await fairWithin([a, b, c], TTL, '3 members holding 4 each');
    // c crashes: it stops renewing and never releases anything.
    processes.splice(processes.indexOf(c), 1);
    await c.balancer.halt();
    await c.store.close();
    // Judged gone one TTL after its counter last moved, then cleaned up and its share taken.
    await fairWithin([a, b], 2 * TTL + 2 * RENEW, '2 members holding 6 each');
    await until(
      async () =>
        (await a.store.list('balance#members'))
          .map((lease) => lease.owner)
          .sort()
          .join() === 'a,b',
      'the crashed member’s row removed',
      TTL,
    );
  });

  it('with one member’s clock 60 s ahead, no partition has two holders for longer than one renewal interval', async () => {
    const skewed = () => performance.now() + 60_000;
    const members = [await start('a'), await start('b', PARTITIONS, skewed), await start('c')];
    const doubleSince = new Map<string, number>();
    let longest = 0;
    const watch = () => {
      const now = performance.now();
      for (const partition of PARTITIONS) {
        const holders = members.filter((member) => member.balancer.holds(partition)).length;
        if (holders > 1) {
          doubleSince.set(partition, doubleSince.get(partition) ?? now);
          longest = Math.max(longest, now - (doubleSince.get(partition) as number));
        } else doubleSince.delete(partition);
      }
    };
    const watching = (done: () => boolean | Promise<boolean>) => () => {
      watch();
      return done();
    };
    await until(
      watching(() => fair(members)),
      '3 members holding 4 each',
      TTL,
    );
    // Then two lease times more of renewals (counted on the skewed member's row), still watching.
    const counter = async () => (await members[0]?.store.list('balance#members'))?.find((lease) => lease.owner === 'b')?.counter ?? 0;
    const from = await counter();
    await until(
      watching(async () => (await counter()) >= from + (2 * TTL) / RENEW),
      'two lease times of renewals',
      4 * TTL,
    );
    expect(longest).toBeLessThanOrEqual(RENEW);
    expect(fair(members)).toBe(true);
  });
});
