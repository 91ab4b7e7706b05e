import { memoryLeaseStore } from '@riverlog/core';
import { describe, expect, test } from 'vitest';
import { LeaseKeeper } from './lease-keeper.js';

describe('LeaseKeeper', () => {
  test('exclusive: owned is one set for all partitions while the view lease is held, not a new set per call', async () => {
    const changes: ReadonlySet<string>[] = [];
    const keeper = new LeaseKeeper({
      leases: memoryLeaseStore(),
      group: 'view:tally@1',
      owner: 'builder-1',
      ttlMs: 10_000,
      partitions: ['0', '1', '2'],
      exclusive: true,
      onChange: (owned) => changes.push(owned),
      onError: (error) => {
        throw error;
      },
    });
    expect(keeper.owned.size).toBe(0);
    expect(keeper.owned).toBe(keeper.owned);
    await keeper.start();
    expect([...keeper.owned]).toEqual(['0', '1', '2']);
    expect(keeper.owned).toBe(keeper.owned);
    expect(changes).toEqual([keeper.owned]);
    await keeper.stop();
    expect(keeper.owned.size).toBe(0);
  });
});
