import type { PositionMap } from '@riverlog/core';
import { compareOffsets, PARTITION_END } from '@riverlog/core';

/** True when checkpoint offset `at` is at or past `target` ({@link PARTITION_END} is past every offset). */
export function reached(at: string | undefined, target: string): boolean {
  if (at === undefined) return false;
  if (at === PARTITION_END) return true;
  if (target === PARTITION_END) return false;
  return compareOffsets(at, target) >= 0;
}

interface Waiter {
  readonly ends: PositionMap;
  resolve(positions: PositionMap): void;
  reject(error: unknown): void;
}

/**
 * How far the view has got, as this process knows it: its own commits and
 * the checkpoint other processes committed (polled from the store while
 * someone waits), the furthest per partition. Resolves `caughtUp()` waiters
 * once every partition reached the end they wait for.
 *
 * @example
 * const progress = new Progress();
 * const done = progress.wait(await readEnds(log, ids, checkpoint));
 * progress.learn({ '0': '41' }); // after a commit
 */
export class Progress {
  private readonly known: Record<string, string> = {};
  private readonly waiters = new Set<Waiter>();

  /** The furthest checkpoint known per partition. */
  positions(): PositionMap {
    return { ...this.known };
  }

  get waiting(): boolean {
    return this.waiters.size > 0;
  }

  /** Takes in a checkpoint (ours or read from the store) and resolves the waiters it satisfies. */
  learn(positions: PositionMap): void {
    for (const [partition, offset] of Object.entries(positions)) {
      const at = this.known[partition];
      if (at === undefined || (at !== offset && reached(offset, at))) this.known[partition] = offset;
    }
    for (const waiter of this.waiters) {
      if (this.covers(waiter.ends)) {
        this.waiters.delete(waiter);
        waiter.resolve(this.positions());
      }
    }
  }

  /**
   * Resolves with the known checkpoint once every partition of `ends`
   * reached its offset there; rejects with `signal`'s reason when it aborts
   * first (and forgets the waiter).
   */
  wait(ends: PositionMap, signal?: AbortSignal): Promise<PositionMap> {
    return new Promise((resolve, reject) => {
      if (this.covers(ends)) return resolve(this.positions());
      if (signal?.aborted) return reject(signal.reason);
      const abort = () => {
        this.waiters.delete(waiter);
        reject(signal?.reason);
      };
      const settled = () => signal?.removeEventListener('abort', abort);
      const waiter: Waiter = {
        ends,
        resolve: (positions) => {
          settled();
          resolve(positions);
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** The partitions of `ends` not reached yet, with where each is and its end: for a message. */
  behind(ends: PositionMap): string {
    const behind = Object.entries(ends).filter(([partition, end]) => !reached(this.known[partition], end));
    return behind.map(([partition, end]) => `partition ${partition} (at ${this.known[partition] ?? 'nothing'}, end ${end})`).join(', ');
  }

  /** Rejects the waiters that wait for `partition` past where it is (it stopped), or every waiter. */
  fail(error: unknown, partition?: string): void {
    for (const waiter of this.waiters) {
      const target = partition === undefined ? undefined : waiter.ends[partition];
      if (partition !== undefined && (target === undefined || reached(this.known[partition], target))) continue;
      this.waiters.delete(waiter);
      waiter.reject(error);
    }
  }

  private covers(ends: PositionMap): boolean {
    for (const [partition, end] of Object.entries(ends)) if (!reached(this.known[partition], end)) return false;
    return true;
  }
}
