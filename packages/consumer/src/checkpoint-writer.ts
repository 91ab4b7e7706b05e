import { advance, type CheckpointStore, type Position, type PositionMap } from '@riverlog/core';

export interface CheckpointWriterOptions {
  readonly store: CheckpointStore;
  readonly group: string;
  readonly everyRecords: number;
  readonly everyMs: number;
  readonly onWritten: (positions: PositionMap) => void;
  readonly onError: (error: unknown) => void;
}

/**
 * Collects finished positions and writes them in batches: after
 * `everyRecords` finished records, every `everyMs`, and on `close()`.
 * Writes never overlap; a failed write is merged back and tried again with
 * the next one.
 */
export class CheckpointWriter {
  private pending: Record<string, string> = {};
  private count = 0;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CheckpointWriterOptions) {}

  start(): void {
    this.timer ??= setInterval(() => {
      if (Object.keys(this.pending).length > 0) this.flush().catch(() => {});
    }, this.options.everyMs);
  }

  /**
   * Records that everything up to `position` in its partition is finished.
   * Callers report each partition's records in offset order, so the latest wins without a comparison.
   */
  finished(position: Position): void {
    // Mutated in place: this runs once per record. `flush` swaps in a fresh object.
    this.pending[position.partition] = position.offset;
    if (++this.count >= this.options.everyRecords) this.flush().catch(() => {});
  }

  /**
   * Drops what is pending for a partition this process no longer holds: its
   * new owner may be further on, and an older checkpoint written now would
   * send it back. Those records are delivered again (at least once).
   */
  forget(partition: string): void {
    delete this.pending[partition];
  }

  /** Writes what is pending, after any write already under way. Rejects if this write fails. */
  flush(): Promise<void> {
    // Taken now, not when the write runs: records finishing meanwhile belong to the next write.
    const positions = this.pending;
    this.pending = {};
    this.count = 0;
    const write = this.chain.then(() => this.write(positions));
    this.chain = write.catch(() => {});
    return write;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(positions: PositionMap): Promise<void> {
    if (Object.keys(positions).length === 0) return;
    try {
      await this.options.store.save(this.options.group, positions);
    } catch (error) {
      for (const [partition, offset] of Object.entries(positions)) this.pending = { ...advance(this.pending, { partition, offset }) };
      this.options.onError(error);
      throw error;
    }
    this.options.onWritten(positions);
  }
}
