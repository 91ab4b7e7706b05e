import {
  type BackoffPolicy,
  type CheckpointStore,
  type Fence,
  LeaseLostError,
  PARTITION_END,
  type Position,
  type PositionMap,
  type RetryReport,
  RiverlogError,
  retryForever,
} from '@riverlog/core';

export interface CheckpointWriterOptions {
  readonly store: CheckpointStore;
  readonly group: string;
  readonly everyRecords: number;
  readonly everyMs: number;
  /** Waits between tries of a failing store. */
  readonly policy: BackoffPolicy;
  /** The fencing tokens for these partitions (empty without leases); throws `LEASE_LOST` for one no longer held. */
  readonly fence: (partitions: readonly string[]) => Fence;
  /** Whether a partition's progress may still be written: worked on, and not lost. */
  readonly mayWrite: (partition: string) => boolean;
  readonly onWritten: (positions: PositionMap) => void;
  /**
   * The store refused a write under our fence at `epoch` (undefined: we no
   * longer hold the lease at all): stop the partition's tenure under that
   * epoch, if it is still the one worked on; what this write held for it is dropped.
   */
  readonly onLeaseLost: (partition: string, epoch: number | undefined, error: unknown) => void;
  readonly onRetry: (report: RetryReport) => void;
  readonly onRecovered: () => void;
}

const isLeaseLost = (error: unknown) => error instanceof RiverlogError && error.code === 'LEASE_LOST';

/**
 * Collects finished positions and writes them in batches: after
 * `everyRecords` finished records, every `everyMs`, and on `close()`. Every
 * write carries the fence of the partitions it names. Writes never overlap;
 * a failing store is tried again by the backoff policy for as long as it
 * fails, each try writing what is pending then. A write the store refuses
 * for a stale fence drops that partition's progress (its new owner may be
 * further on) and reports it; the others are written.
 */
export class CheckpointWriter {
  private pending: Record<string, string> = {};
  private count = 0;
  private chain: Promise<void> = Promise.resolve();
  /** A write that has not started yet: it takes everything pending when it does. */
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly halt = new AbortController();

  constructor(private readonly options: CheckpointWriterOptions) {}

  start(): void {
    this.timer ??= setInterval(() => {
      if (this.hasPending()) this.flush().catch(() => {});
    }, this.options.everyMs);
  }

  /**
   * Records that everything up to `position` in its partition is finished.
   * Callers report each partition's records in offset order, so the latest wins without a comparison.
   */
  finished(position: Position): void {
    // Mutated in place: this runs once per record. `take` swaps in a fresh object.
    this.pending[position.partition] = position.offset;
    if (++this.count >= this.options.everyRecords) this.flush().catch(() => {});
  }

  /** Records that a closed partition was read to its end (its checkpoint becomes `PARTITION_END`). */
  ended(partition: string): void {
    this.pending[partition] = PARTITION_END;
  }

  /**
   * Drops what is pending for a partition this process no longer holds: its
   * new owner may be further on, and an older checkpoint written now would
   * send it back. Those records are delivered again (at least once).
   */
  forget(partition: string): void {
    delete this.pending[partition];
  }

  hasPending(): boolean {
    for (const _ in this.pending) return true;
    return false;
  }

  /** Writes what is pending, after any write under way; tries again while the store fails. Rejects only once the writer is closing. */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.chain.then(() => {
      this.queued = undefined;
      return this.writeWithRetries();
    });
    this.queued = run;
    this.chain = run.catch(() => {});
    return run;
  }

  /** Writes what is pending once, after any write under way; rejects if it fails (what it held stays pending). */
  writeNow(): Promise<void> {
    const run = this.chain.then(() => this.writeOnce());
    this.chain = run.catch(() => {});
    return run;
  }

  /** Stops the timer and the retries, then writes what is pending once; rejects if that write fails. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.halt.abort();
    await this.chain;
    await this.writeOnce();
  }

  private async writeWithRetries(): Promise<void> {
    let failed = false;
    try {
      await retryForever(() => this.writeOnce(), {
        policy: this.options.policy,
        signal: this.halt.signal,
        onRetry: (report) => {
          failed = true;
          this.options.onRetry(report);
        },
      });
    } finally {
      if (failed) this.options.onRecovered();
    }
  }

  /** Takes what is pending for partitions that may still be written. */
  private take(): Record<string, string> {
    const positions = this.pending;
    this.pending = {};
    this.count = 0;
    for (const partition of Object.keys(positions)) if (!this.options.mayWrite(partition)) delete positions[partition];
    return positions;
  }

  /** Puts back what a failed write held, where nothing newer came meanwhile. */
  private restore(positions: Record<string, string>): void {
    for (const [partition, offset] of Object.entries(positions)) {
      if (this.pending[partition] === undefined && this.options.mayWrite(partition)) this.pending[partition] = offset;
    }
  }

  private lost(positions: Record<string, string>, partition: string, epoch: number | undefined, error: unknown): void {
    delete positions[partition];
    this.options.onLeaseLost(partition, epoch, error);
  }

  private async writeOnce(): Promise<void> {
    const positions = this.take();
    while (Object.keys(positions).length > 0) {
      const fence: Record<string, number> = {};
      for (const partition of Object.keys(positions)) {
        try {
          Object.assign(fence, this.options.fence([partition]));
        } catch (error) {
          if (!isLeaseLost(error)) throw error;
          this.lost(positions, partition, undefined, error);
        }
      }
      if (Object.keys(positions).length === 0) return;
      try {
        await this.options.store.save(this.options.group, positions, fence);
      } catch (error) {
        if (isLeaseLost(error)) {
          const refused = error instanceof LeaseLostError && error.partition in positions ? [error.partition] : Object.keys(positions);
          for (const partition of refused) this.lost(positions, partition, fence[partition], error);
          continue;
        }
        this.restore(positions);
        throw error;
      }
      this.options.onWritten(positions);
      return;
    }
  }
}
