import type { BackoffPolicy, RetryReport } from '@riverlog/core';
import { retryForever } from '@riverlog/core';

/** What the view builder was doing when a transient failure came. */
export type ViewOperation =
  | 'read'
  | 'partitions'
  | 'positions'
  | 'rows'
  | 'seen'
  | 'commit'
  | 'claim'
  | 'createTable'
  | 'alias'
  | 'deadLetters';

/** A transient failure being retried, as `status()` and `onRetry` report it. */
export interface ViewRetry extends RetryReport {
  readonly operation: ViewOperation;
  /** When the first failure of this run of failures came (epoch ms). */
  readonly since: number;
}

/**
 * Codes of failures that retrying cannot mend: a closed log or store, a
 * bug in the view, a row or commit the store cannot take, a table dropped
 * under the builder. Everything else (a busy database, a network error, a
 * throttled call) is retried for as long as it lasts.
 */
const FATAL = new Set([
  'CLOSED',
  'LOG_FORMAT',
  'PARTITION_COUNT_MISMATCH',
  'UNKNOWN_PARTITION',
  'INVALID_OPTION',
  'INVALID_VIEW',
  'INVALID_VIEW_VALUE',
  'VIEW_INDEX_FAILED',
  'ROW_TOO_LARGE',
  'COMMIT_TOO_LARGE',
  'UNKNOWN_VIEW_TABLE',
  'UNKNOWN_INDEX',
]);

/** The code of a riverlog error, if it is one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for failures that retrying cannot mend (see {@link FATAL}). */
export function isFatal(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && FATAL.has(code);
}

/**
 * The view builder's retries: each I/O operation goes through core's
 * `retryForever` with the one backoff policy, for as long as its failures
 * last; the retries under way are kept for `status()` and reported to
 * `onRetry`. A conflict or a lost lease is not retried here: the caller
 * folds again or drops the partition.
 *
 * @example
 * const retries = new Retries(policy, stopping.signal, (r) => console.warn(r.operation, r.error));
 * const rows = await retries.run('rows', () => store.rows(table, keys));
 */
export class Retries {
  private readonly current = new Map<ViewOperation, ViewRetry>();
  /** Failures retried since the start. */
  count = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly signal: AbortSignal,
    private readonly onRetry?: (retry: ViewRetry) => void,
  ) {}

  /** The retries under way, one per operation. */
  underWay(): ViewRetry[] {
    return [...this.current.values()];
  }

  /** Runs `attempt` until it succeeds, a fatal error, a conflict or a lost lease; `signal` (or stopping) ends the waits. */
  async run<T>(operation: ViewOperation, attempt: () => Promise<T>, signal: AbortSignal = this.signal): Promise<T> {
    let since: number | undefined;
    try {
      return await retryForever(attempt, {
        policy: this.policy,
        signal,
        retryable: (error) => !isFatal(error) && codeOf(error) !== 'CONFLICT' && codeOf(error) !== 'LEASE_LOST',
        onRetry: (report) => {
          since ??= Date.now();
          const retry: ViewRetry = { ...report, operation, since };
          this.count++;
          this.current.set(operation, retry);
          this.onRetry?.(retry);
        },
      });
    } finally {
      if (since !== undefined) this.current.delete(operation);
    }
  }
}
