import type { Lease, LeaseStore } from '../ports.js';

const leaseId = (group: string, partition: string) => `${group}\u0000${partition}`;

/** True when the stored lease is still exactly the one the caller saw (same epoch and counter). */
const unchanged = (stored: Lease | undefined, seen: Lease): stored is Lease =>
  stored !== undefined && stored.epoch === seen.epoch && stored.counter === seen.counter;

/**
 * Leases held in memory, for several workers in one process. Every write is
 * a compare-and-set on the lease's epoch and counter; the store keeps no
 * clock (expiry is judged by the caller, see `Lease`).
 *
 * @example
 * const leases = memoryLeaseStore();
 * const mine = await leases.take('views', '0', 'worker-1', undefined); // epoch 1
 * await leases.renew(mine!); // counter 2
 */
export function memoryLeaseStore(): LeaseStore {
  const leases = new Map<string, Lease>();
  const copy = (lease: Lease): Lease => ({ ...lease });
  return {
    async list(group) {
      return [...leases.values()].filter((lease) => lease.group === group).map(copy);
    },
    async take(group, partition, owner, seen) {
      const id = leaseId(group, partition);
      const stored = leases.get(id);
      if (seen === undefined ? stored !== undefined : !unchanged(stored, seen)) return undefined;
      const taken: Lease = { group, partition, owner, epoch: (stored?.epoch ?? 0) + 1, counter: (stored?.counter ?? 0) + 1 };
      leases.set(id, taken);
      return copy(taken);
    },
    async renew(lease) {
      const id = leaseId(lease.group, lease.partition);
      const stored = leases.get(id);
      if (!stored || stored.epoch !== lease.epoch || stored.owner === undefined || stored.owner !== lease.owner) return undefined;
      const renewed: Lease = { ...stored, counter: stored.counter + 1 };
      leases.set(id, renewed);
      return copy(renewed);
    },
    async release(lease) {
      const id = leaseId(lease.group, lease.partition);
      const stored = leases.get(id);
      if (!stored || stored.epoch !== lease.epoch || stored.owner === undefined || stored.owner !== lease.owner) return;
      leases.set(id, { ...stored, owner: undefined, counter: stored.counter + 1 });
    },
    async remove(lease) {
      const id = leaseId(lease.group, lease.partition);
      if (unchanged(leases.get(id), lease)) leases.delete(id);
    },
    async close() {},
  };
}
