import { sleep } from '@riverlog/core/backend';

/** How much one process reads from one shard: Kinesis's per-shard limits by default. */
export interface ReadLimits {
  /** GetRecords calls per second per shard, all readers of the process together. Default 5 (Kinesis's limit). */
  readonly callsPerSecond?: number;
  /** Bytes per second per shard (the records' data). Default 2 MiB (Kinesis's limit). */
  readonly bytesPerSecond?: number;
}

export const DEFAULT_READ_LIMITS = { callsPerSecond: 5, bytesPerSecond: 2 * 1024 * 1024 } as const;

/**
 * The window calls are counted over: a little more than a second, because a
 * call reaches Kinesis some milliseconds after it is counted here, and not
 * always the same number: with an exact second, the 6th call could land
 * within 1 s of the 1st.
 */
const CALL_WINDOW_MS = 1_050;

/**
 * One shard's read budget: at most `callsPerSecond` calls in any second,
 * and on average `bytesPerSecond` (a call that brought many bytes delays
 * the next ones, after a one-second burst), as Kinesis counts them.
 */
export class ShardBudget {
  /** Start times of the calls of the last second, oldest first. */
  private readonly recent: number[] = [];
  private bytesFreeAt = 0;

  constructor(private readonly limits: Required<ReadLimits>) {}

  /** Waits until one more call keeps within the budget, and counts it; false when `signal` aborted first. */
  async take(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const now = Date.now();
      while (this.recent.length > 0 && (this.recent[0] as number) <= now - CALL_WINDOW_MS) this.recent.shift();
      let wait = this.bytesFreeAt - 1000 - now;
      if (this.recent.length >= this.limits.callsPerSecond) wait = Math.max(wait, (this.recent[0] as number) + CALL_WINDOW_MS - now);
      if (wait <= 0) {
        this.recent.push(now);
        return true;
      }
      if (!(await sleep(wait, signal))) return false;
    }
  }

  /** Counts the bytes a call brought. */
  spend(bytes: number): void {
    const now = Date.now();
    this.bytesFreeAt = Math.max(this.bytesFreeAt, now) + (bytes / this.limits.bytesPerSecond) * 1000;
  }

  /** When the last call started (0: never). */
  get lastCallAt(): number {
    return this.recent[this.recent.length - 1] ?? 0;
  }
}
