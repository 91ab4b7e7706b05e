import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError, type LeaseStore } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteLeaseStore } from './lease-store.js';

let dir: string;
let now = 1_000_000;
const stores: LeaseStore[] = [];
const open = () => {
  const store = sqliteLeaseStore({ path: join(dir, 'leases.db'), now: () => now });
  stores.push(store);
  return store;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-leases-'));
  now = 1_000_000;
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqliteLeaseStore', () => {
  it('gives a partition to one owner until its lease expires, across connections', async () => {
    const [a, b] = [open(), open()];
    expect(await a.acquire('views', '0', 'worker-a', 10_000)).toBe(true);
    expect(await b.acquire('views', '0', 'worker-b', 10_000)).toBe(false);
    expect(await a.acquire('views', '0', 'worker-a', 10_000)).toBe(true);
    expect(await b.acquire('views', '1', 'worker-b', 10_000)).toBe(true);
    expect(await b.list('views')).toEqual([
      { group: 'views', partition: '0', owner: 'worker-a', expiresAt: 1_010_000 },
      { group: 'views', partition: '1', owner: 'worker-b', expiresAt: 1_010_000 },
    ]);
    now += 10_000; // expired exactly now
    expect(await a.renew('views', '0', 'worker-a', 10_000)).toBe(false);
    expect(await b.acquire('views', '0', 'worker-b', 5000)).toBe(true);
    expect(await a.acquire('views', '0', 'worker-a', 10_000)).toBe(false);
    expect((await a.list('views')).find((l) => l.partition === '0')).toEqual({
      group: 'views',
      partition: '0',
      owner: 'worker-b',
      expiresAt: 1_015_000,
    });
  });

  it('renews only our own live lease and releases only our own', async () => {
    const store = open();
    expect(await store.renew('g', '0', 'me', 1000)).toBe(false);
    await store.acquire('g', '0', 'me', 1000);
    now += 500;
    expect(await store.renew('g', '0', 'you', 1000)).toBe(false);
    expect(await store.renew('g', '0', 'me', 1000)).toBe(true);
    expect((await store.list('g'))[0]?.expiresAt).toBe(now + 1000);
    await store.release('g', '0', 'you');
    expect(await store.list('g')).toHaveLength(1);
    await store.release('g', '0', 'me');
    expect(await store.list('g')).toEqual([]);
    expect(await store.list('other')).toEqual([]);
  });

  it('lets exactly one of many racing connections take a free partition', async () => {
    const racers = Array.from({ length: 5 }, () => open());
    const results = await Promise.all(racers.map((store, i) => store.acquire('g', '3', `w${i}`, 1000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('rejects calls after close with ClosedError', async () => {
    const store = open();
    await store.close();
    await expect(store.acquire('g', '0', 'me', 10)).rejects.toBeInstanceOf(ClosedError);
  });
});
