import { describe, expect, it } from 'vitest';
import { LeaseWatch } from './lease-watch.js';
import type { Lease } from './ports.js';

const lease = (counter: number, owner: string | undefined = 'a', epoch = 1): Lease => ({
  group: 'g',
  partition: '0',
  owner,
  epoch,
  counter,
});

describe('LeaseWatch', () => {
  it('judges a lease expired when its counter has not moved for the TTL on our clock, counted from when we first saw it', () => {
    let clock = 1_000;
    const watch = new LeaseWatch(100, () => clock);
    watch.observe('g', [lease(5)]);
    clock += 99;
    expect(watch.expired(lease(5))).toBe(false);
    watch.observe('g', [lease(5)]);
    clock += 1;
    expect(watch.expired(lease(5))).toBe(true);
    expect(watch.live(lease(5))).toBe(false);
    // The counter moved: live again, for a TTL from now.
    watch.observe('g', [lease(6)]);
    expect(watch.live(lease(6))).toBe(true);
    clock += 100;
    expect(watch.expired(lease(6))).toBe(true);
  });

  it('never reads a time from the lease: a clock 60 s ahead judges exactly the same', () => {
    for (const offset of [0, 60_000, -60_000]) {
      let clock = 5_000 + offset;
      const watch = new LeaseWatch(100, () => clock);
      watch.observe('g', [lease(1)]);
      clock += 50;
      expect(watch.expired(lease(1))).toBe(false);
      clock += 50;
      expect(watch.expired(lease(1))).toBe(true);
    }
  });

  it('a new epoch, or a lease never observed, is not expired; a released lease is not live', () => {
    let clock = 0;
    const watch = new LeaseWatch(10, () => clock);
    watch.observe('g', [lease(3)]);
    clock = 20;
    expect(watch.expired(lease(3, 'b', 2))).toBe(false);
    expect(watch.expired({ ...lease(1), partition: 'other' })).toBe(false);
    expect(watch.live(lease(3, undefined))).toBe(false);
  });
});
