import { LeaseLostError, RiverlogError } from './errors.js';
import type { Fence } from './ports.js';

/**
 * The fencing check every store makes before a fenced write (checkpoint
 * saves, view commits), for backend authors: each epoch of `fence` must be
 * an integer (`INVALID_OPTION`: a NaN stored would disable the fence for
 * good), and none may be below the epoch the store holds for its partition
 * (`stored(partition)`, undefined when it holds none): `LeaseLostError`
 * (`LEASE_LOST`) for the first that is. Nothing is written by it; the store
 * records the fence's epochs itself once the whole write is accepted.
 *
 * @example
 * checkFence(`Checkpoint of group ${group}`, fence, (partition) => epochs[partition]);
 */
export function checkFence(where: string, fence: Fence | undefined, stored: (partition: string) => number | undefined): void {
  if (fence === undefined) return;
  for (const partition in fence) {
    const epoch = fence[partition] as number;
    if (!Number.isSafeInteger(epoch)) {
      const got = typeof epoch === 'number' ? String(epoch) : JSON.stringify(epoch);
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: fence epochs must be integers (a lease's epoch), got ${got} for partition ${partition}. Nothing was written.`,
      );
    }
    const current = stored(partition);
    if (current !== undefined && current > epoch) throw new LeaseLostError(where, partition, epoch, current);
  }
}
