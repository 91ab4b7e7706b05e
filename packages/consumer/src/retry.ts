import { RiverlogError } from '@riverlog/core';

/**
 * How often and how patiently a failing handler is tried again before its
 * record goes to the dead letter. Delays grow exponentially with "equal
 * jitter": each wait is between half and all of
 * `min(maxDelayMs, initialDelayMs * factor^(attempt-1))`, so retries of many
 * consumers do not fall into step.
 *
 * @example
 * const retry: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 };
 */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 5; 1 means no retry. */
  readonly maxAttempts?: number;
  /** Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Default 30 s. */
  readonly maxDelayMs?: number;
  /** Default 2. */
  readonly factor?: number;
  /** Source of randomness in [0, 1), for tests. Default `Math.random`. */
  readonly random?: () => number;
}

export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly random: () => number;
}

export function resolveRetryPolicy(policy: RetryPolicy | undefined, where: string): ResolvedRetryPolicy {
  const resolved = {
    maxAttempts: policy?.maxAttempts ?? 5,
    initialDelayMs: policy?.initialDelayMs ?? 100,
    maxDelayMs: policy?.maxDelayMs ?? 30_000,
    factor: policy?.factor ?? 2,
    random: policy?.random ?? Math.random,
  };
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new RiverlogError('INVALID_OPTION', `${where}: retry.maxAttempts must be a whole number ≥ 1, got ${resolved.maxAttempts}.`);
  }
  for (const key of ['initialDelayMs', 'maxDelayMs'] as const) {
    if (!(resolved[key] >= 0)) throw new RiverlogError('INVALID_OPTION', `${where}: retry.${key} must be ≥ 0, got ${resolved[key]}.`);
  }
  if (!(resolved.factor >= 1)) throw new RiverlogError('INVALID_OPTION', `${where}: retry.factor must be ≥ 1, got ${resolved.factor}.`);
  return resolved;
}

/**
 * The wait before try `attempt + 1`, after try `attempt` (1-based) failed.
 *
 * @example
 * backoffDelay(resolveRetryPolicy({ initialDelayMs: 100 }, 'x'), 3); // between 200 and 400
 */
export function backoffDelay(policy: ResolvedRetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  return Math.round(ceiling / 2 + (policy.random() * ceiling) / 2);
}
