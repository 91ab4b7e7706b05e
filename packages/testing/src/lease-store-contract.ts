import type { Lease, LeaseStore } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** What a contract factory hands the suite: a fresh, empty lease store, and how to dispose of it. */
export interface LeaseStoreUnderTest {
  /** A new, empty store. The suite closes it after each test. */
  readonly store: LeaseStore;
  /**
   * Another client of the same storage (a second connection, a second SDK
   * client), for races between processes. The suite closes what it returns.
   * Absent: the races run on `store` itself.
   */
  readonly connect?: () => Promise<LeaseStore>;
  /** Opens the same storage again after `store` was closed (durable stores): the suite checks that leases survive. */
  readonly reopen?: () => Promise<LeaseStore>;
  /** Removes what the store left behind (files, tables). Runs after the stores are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface LeaseStoreContractOptions {
  /** Racers in the take race. Default 5. */
  readonly racers?: number;
  /**
   * Whether the store keeps its leases across close and reopen (its factory
   * then returns `reopen`). Default true; false for in-process stores, whose
   * reopen test is then not registered at all.
   */
  readonly durable?: boolean;
}

const GROUP = 'contract-group';

/**
 * The behaviour every `LeaseStore` must have: each write a compare-and-set on
 * the lease as last seen, the epoch (fencing token) growing on every take and
 * kept by a release, the counter growing on every write, and no clock in the
 * store. Registers a vitest `describe` block.
 *
 * @example
 * import { memoryLeaseStore } from '@riverlog/core';
 * import { describeLeaseStoreContract } from '@riverlog/testing';
 *
 * describeLeaseStoreContract('memory lease store', async () => ({ store: memoryLeaseStore() }), { durable: false });
 */
export function describeLeaseStoreContract(
  name: string,
  factory: () => Promise<LeaseStoreUnderTest>,
  options: LeaseStoreContractOptions = {},
): void {
  const racers = options.racers ?? 5;
  const durable = options.durable ?? true;

  describe(`LeaseStore contract: ${name}`, () => {
    let subject: LeaseStoreUnderTest;
    let store: LeaseStore;
    const opened: LeaseStore[] = [];

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
      opened.push(store);
    });

    afterEach(async () => {
      for (const each of new Set(opened.splice(0))) await each.close();
      await subject.cleanup?.();
    });

    /** Another client of the same storage (or the store itself). */
    async function other(): Promise<LeaseStore> {
      if (!subject.connect) return store;
      const connected = await subject.connect();
      opened.push(connected);
      return connected;
    }

    const find = async (partition: string, group = GROUP, from = store) =>
      (await from.list(group)).find((lease) => lease.partition === partition);

    it('takes a partition nobody has: the new lease is listed as it was returned, and a second take of it fails', async () => {
      expect(await store.list(GROUP)).toEqual([]);
      const mine = await store.take(GROUP, '0', 'a', undefined);
      expect(mine).toMatchObject({ group: GROUP, partition: '0', owner: 'a' });
      expect(mine?.epoch).toBeGreaterThan(0);
      expect(await store.list(GROUP)).toEqual([mine]);
      expect(await (await other()).take(GROUP, '0', 'b', undefined)).toBeUndefined();
      expect(await find('0')).toEqual(mine);
    });

    it('lists the leases of one group only, released ones included', async () => {
      const a = await store.take(GROUP, '0', 'a', undefined);
      await store.take(GROUP, '1', 'b', undefined);
      await store.take(`${GROUP}#members`, 'a', 'a', undefined);
      await store.release(a as Lease);
      const listed = await store.list(GROUP);
      expect(listed.map((lease) => [lease.partition, lease.owner]).sort()).toEqual([
        ['0', undefined],
        ['1', 'b'],
      ]);
      expect((await store.list(`${GROUP}#members`)).map((lease) => lease.partition)).toEqual(['a']);
      expect(await store.list('no-such-group')).toEqual([]);
    });

    it(`takes a lease only once when ${racers} race on the same seen lease`, async () => {
      const seen = (await store.take(GROUP, '3', 'crashed', undefined)) as Lease;
      const clients = await Promise.all(Array.from({ length: racers }, () => other()));
      const results = await Promise.all(clients.map((client, i) => client.take(GROUP, '3', `racer-${i}`, seen)));
      const winners = results.filter((lease): lease is Lease => lease !== undefined);
      expect(winners).toHaveLength(1);
      const [winner] = winners as [Lease];
      expect(winner.epoch).toBe(seen.epoch + 1);
      expect(winner.counter).toBeGreaterThan(seen.counter);
      expect(await find('3')).toEqual(winner);
    });

    it(`creates a lease only once when ${racers} race to take a partition nobody has`, async () => {
      const clients = await Promise.all(Array.from({ length: racers }, () => other()));
      const results = await Promise.all(clients.map((client, i) => client.take(GROUP, '4', `racer-${i}`, undefined)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('refuses a take made on a stale view of the lease (its counter moved)', async () => {
      const seen = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      const renewed = (await store.renew(seen)) as Lease;
      expect(await (await other()).take(GROUP, '0', 'b', seen)).toBeUndefined();
      expect(await find('0')).toEqual(renewed);
    });

    it('renews: same owner and epoch, a higher counter, every time', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      const once = (await store.renew(mine)) as Lease;
      expect(once).toMatchObject({ group: GROUP, partition: '0', owner: 'a', epoch: mine.epoch });
      expect(once.counter).toBeGreaterThan(mine.counter);
      const twice = (await store.renew(once)) as Lease;
      expect(twice.counter).toBeGreaterThan(once.counter);
      expect(await find('0')).toEqual(twice);
    });

    it('fails to renew after a steal: the thief has a higher epoch, the old holder gets undefined and writes nothing', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      const thief = await other();
      const stolen = (await thief.take(GROUP, '0', 'b', mine)) as Lease;
      expect(stolen).toMatchObject({ owner: 'b', epoch: mine.epoch + 1 });
      expect(await store.renew(mine)).toBeUndefined();
      // Renewing a lease we held earlier still fails, however the stale copy looks.
      expect(await store.renew({ ...mine, counter: stolen.counter })).toBeUndefined();
      await store.release(mine);
      expect(await find('0')).toEqual(stolen);
      expect(await thief.renew(stolen)).toMatchObject({ owner: 'b', epoch: stolen.epoch });
    });

    it('release clears the owner and keeps the epoch; the next take raises it', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      await store.release(mine);
      const released = (await find('0')) as Lease;
      expect(released).toMatchObject({ group: GROUP, partition: '0', epoch: mine.epoch });
      expect(released.owner).toBeUndefined();
      expect(released.counter).toBeGreaterThan(mine.counter);
      expect(await store.renew(mine)).toBeUndefined();
      expect(await store.take(GROUP, '0', 'b', undefined)).toBeUndefined();
      const next = (await (await other()).take(GROUP, '0', 'b', released)) as Lease;
      expect(next).toMatchObject({ owner: 'b', epoch: mine.epoch + 1 });
    });

    it('a release under a stale lease is a no-op', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      const stolen = (await (await other()).take(GROUP, '0', 'b', mine)) as Lease;
      await store.release(mine);
      expect(await find('0')).toEqual(stolen);
    });

    it('removes a lease only if it is unchanged (same epoch and counter)', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      const renewed = (await store.renew(mine)) as Lease;
      await (await other()).remove(mine);
      expect(await find('0')).toEqual(renewed);
      await (await other()).remove({ ...renewed, epoch: renewed.epoch + 1 });
      expect(await find('0')).toEqual(renewed);
      await (await other()).remove(renewed);
      expect(await find('0')).toBeUndefined();
      expect(await store.renew(renewed)).toBeUndefined();
      // Gone: it can be taken as a partition nobody has.
      expect(await store.take(GROUP, '0', 'b', undefined)).toMatchObject({ owner: 'b' });
    });

    it('removes a released lease too, and a remove of a lease that is gone is a no-op', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      await store.release(mine);
      const released = (await find('0')) as Lease;
      await store.remove(released);
      expect(await store.list(GROUP)).toEqual([]);
      await store.remove(released);
      expect(await store.list(GROUP)).toEqual([]);
    });

    it('refuses a take whose seen lease does not match the stored one, and keeps no clock: an old lease stays as it is', async () => {
      const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
      expect(await store.take(GROUP, '0', 'b', undefined)).toBeUndefined();
      expect(await store.take(GROUP, '0', 'b', { ...mine, counter: mine.counter + 1 })).toBeUndefined();
      expect(await find('0')).toEqual(mine);
    });

    it('keeps the leases of many partitions and owners apart', async () => {
      const partitions = Array.from({ length: 20 }, (_, i) => String(i));
      const taken = await Promise.all(
        partitions.map((partition) => store.take(GROUP, partition, `owner-${Number(partition) % 3}`, undefined)),
      );
      expect(taken.every(Boolean)).toBe(true);
      const listed = await store.list(GROUP);
      expect(listed.map((lease) => lease.partition).sort()).toEqual([...partitions].sort());
      for (const lease of listed) expect(lease.owner).toBe(`owner-${Number(lease.partition) % 3}`);
    });

    if (durable) {
      it('keeps leases across close and reopen', async () => {
        if (!subject.reopen) throw new Error(`${name}: a durable store's factory must return reopen (or pass durable: false)`);
        const mine = (await store.take(GROUP, '0', 'a', undefined)) as Lease;
        await store.close();
        const reopened = await subject.reopen();
        opened.push(reopened);
        expect(await reopened.list(GROUP)).toEqual([mine]);
        expect(await reopened.renew(mine)).toMatchObject({ owner: 'a', epoch: mine.epoch });
      });
    }
  });
}
