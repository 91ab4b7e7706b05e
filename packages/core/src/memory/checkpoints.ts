import { checkFence } from '../fence.js';
import type { CheckpointStore, Fence } from '../ports.js';

interface GroupCheckpoint {
  readonly positions: Record<string, string>;
  /** The highest lease epoch each partition was saved (or claimed) under. */
  readonly epochs: Record<string, number>;
}

/**
 * Checkpoints held in memory, fenced like the durable stores: a save under a
 * lease epoch older than one the store has seen for that partition is
 * refused with `LeaseLostError`; a save with empty positions records the
 * fence only (a claim).
 *
 * @example
 * const checkpoints = memoryCheckpointStore();
 * await checkpoints.save('emailer', {}, { '0': 3 });          // claim partition 0 at epoch 3
 * await checkpoints.save('emailer', { '0': '41' }, { '0': 2 }); // rejects: LEASE_LOST
 */
export function memoryCheckpointStore(): CheckpointStore {
  const groups = new Map<string, GroupCheckpoint>();
  const entry = (group: string): GroupCheckpoint => {
    let found = groups.get(group);
    if (!found) {
      found = { positions: {}, epochs: {} };
      groups.set(group, found);
    }
    return found;
  };
  return {
    async load(group) {
      return { ...groups.get(group)?.positions };
    },
    async save(group, positions, fence?: Fence) {
      const target = entry(group);
      checkFence(`Checkpoint of group ${group}`, fence, (partition) => target.epochs[partition]);
      for (const [partition, epoch] of Object.entries(fence ?? {})) target.epochs[partition] = epoch;
      Object.assign(target.positions, positions);
    },
    async close() {},
  };
}
