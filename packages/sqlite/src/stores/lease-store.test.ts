import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError, type LeaseStore } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteLeaseStore } from './lease-store.js';

let dir: string;
const stores: LeaseStore[] = [];
const open = () => {
  const store = sqliteLeaseStore({ path: join(dir, 'leases.db') });
  stores.push(store);
  return store;
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-leases-'));
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

// The port's behaviour is checked by describeLeaseStoreContract (test/contract/sqlite-stores.test.ts);
// these are what only a file shared by connections has.
describe('sqliteLeaseStore', () => {
  it('shares leases across connections to one file, and keeps them across reopen', async () => {
    const [a, b] = [open(), open()];
    const mine = await a.take('views', '0', 'worker-a', undefined);
    expect(mine).toEqual({ group: 'views', partition: '0', owner: 'worker-a', epoch: 1, counter: 1 });
    expect(await b.take('views', '0', 'worker-b', undefined)).toBeUndefined();
    const seen = (await b.list('views'))[0];
    const stolen = await b.take('views', '0', 'worker-b', seen);
    expect(stolen).toEqual({ group: 'views', partition: '0', owner: 'worker-b', epoch: 2, counter: 2 });
    expect(await a.renew(mine!)).toBeUndefined();
    await b.close();
    expect(await open().list('views')).toEqual([stolen]);
  });

  it('lets exactly one of many racing connections take a lease they all saw', async () => {
    const first = open();
    const seen = await first.take('g', '3', 'crashed', undefined);
    const racers = Array.from({ length: 5 }, () => open());
    const results = await Promise.all(racers.map((store, i) => store.take('g', '3', `w${i}`, seen)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await first.list('g'))[0]?.epoch).toBe(2);
  });

  it('rejects calls after close with ClosedError', async () => {
    const store = open();
    await store.close();
    await expect(store.take('g', '0', 'me', undefined)).rejects.toBeInstanceOf(ClosedError);
    await expect(store.list('g')).rejects.toBeInstanceOf(ClosedError);
  });
});
