import type { RetryInfo, RetryStatus } from './types.js';

/**
 * The failures being retried now, for `status()`: one entry per stage and
 * partition, from its first failure until it recovers.
 */
export class RetryBoard {
  private readonly current = new Map<string, RetryStatus>();

  /** A failure that will be tried again. */
  failed(info: RetryInfo): void {
    const key = `${info.stage}\u0000${info.partition ?? ''}`;
    const since = this.current.get(key)?.since ?? new Date().toISOString();
    const entry: RetryStatus = { stage: info.stage, attempt: info.attempt, error: info.error, since };
    this.current.set(key, info.partition === undefined ? entry : { ...entry, partition: info.partition });
  }

  /** The failures of `stage` (in `partition`) are over. */
  recovered(stage: RetryInfo['stage'], partition?: string): void {
    if (this.current.size > 0) this.current.delete(`${stage}\u0000${partition ?? ''}`);
  }

  list(): RetryStatus[] {
    return [...this.current.values()];
  }
}
