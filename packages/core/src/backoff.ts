import { RiverlogError } from './errors.js';
import { sleep } from './read-helpers.js';

/**
 * Capped exponential backoff with full jitter: the one retry policy of every
 * riverlog package (consumer handlers, the view builder, logs and stores).
 * The n-th wait (n from 1) is a random time in
 * `[delay/2, delay]` with `delay = min(maxMs, initialMs * factor^(n-1))`.
 *
 * @example
 * const policy = backoffPolicy({ initialMs: 50, maxMs: 5_000 });
 * policy.delay(1); // 25..50 ms
 * policy.delay(20); // 2,500..5,000 ms
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** The wait before attempt `attempt + 1`, after `attempt` failures (≥ 1). */
  delay(attempt: number): number;
}

export interface BackoffOptions {
  /** First wait, default 50 ms. */
  readonly initialMs?: number;
  /** Longest wait, default 10,000 ms. */
  readonly maxMs?: number;
  /** Growth per attempt, default 2. */
  readonly factor?: number;
  /** Random source in [0, 1), for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Makes a {@link BackoffPolicy}; options are checked at run time.
 *
 * @example
 * const policy = backoffPolicy({ initialMs: 100, maxMs: 30_000 });
 */
export function backoffPolicy(options: BackoffOptions = {}): BackoffPolicy {
  const initialMs = options.initialMs ?? 50;
  const maxMs = options.maxMs ?? 10_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  if (!(Number.isFinite(initialMs) && initialMs >= 0)) throw badBackoff('initialMs', initialMs, 'a number ≥ 0');
  if (!(Number.isFinite(maxMs) && maxMs >= initialMs)) throw badBackoff('maxMs', maxMs, `a number ≥ initialMs (${initialMs})`);
  if (!(Number.isFinite(factor) && factor >= 1)) throw badBackoff('factor', factor, 'a number ≥ 1');
  return {
    initialMs,
    maxMs,
    factor,
    delay(attempt) {
      const exponent = Math.max(0, Math.min(attempt - 1, 64));
      const cap = Math.min(maxMs, initialMs * factor ** exponent);
      return cap / 2 + (random() * cap) / 2;
    },
  };
}

function badBackoff(name: string, value: unknown, expected: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `backoff: ${name} must be ${expected}, got ${String(value)}.`);
}

/** What {@link retryForever} tells its caller about each failure. */
export interface RetryReport {
  readonly attempt: number;
  readonly error: unknown;
  /** The wait before the next attempt. */
  readonly delayMs: number;
}

export interface RetryForeverOptions {
  readonly policy?: BackoffPolicy;
  /** Ends the waiting: `retryForever` then rejects with the last error. */
  readonly signal?: AbortSignal;
  /** False for errors that retrying cannot mend (they are thrown at once). Default: every error is retried. */
  readonly retryable?: (error: unknown) => boolean;
  /** Called after each failure that will be retried: the place to surface a status. */
  readonly onRetry?: (report: RetryReport) => void;
}

/**
 * Runs `attempt` until it succeeds, waiting by the policy between failures,
 * for as long as the failures last (no give-up after a fixed count); stops
 * when the signal aborts or an error is not `retryable`.
 *
 * @example
 * const rows = await retryForever(() => store.rows(table, keys), { signal, onRetry: (r) => status(r) });
 */
export async function retryForever<T>(attempt: () => Promise<T>, options: RetryForeverOptions = {}): Promise<T> {
  const policy = options.policy ?? defaultBackoff;
  for (let failures = 1; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.retryable && !options.retryable(error)) throw error;
      if (options.signal?.aborted) throw error;
      const delayMs = policy.delay(failures);
      options.onRetry?.({ attempt: failures, error, delayMs });
      if (!(await sleep(delayMs, options.signal))) throw error;
    }
  }
}

/** 50 ms doubling to 10 s, with jitter. */
export const defaultBackoff: BackoffPolicy = backoffPolicy();
