import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveRetryPolicy } from './retry.js';

describe('retry policy', () => {
  it('grows exponentially up to the cap, with between half and all of it as the wait', () => {
    const low = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 }, 'test');
    const high = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 }, 'test');
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(low, attempt))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(high, attempt))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('refuses nonsense, naming the option', () => {
    expect(() => resolveRetryPolicy({ maxAttempts: 0 }, 'createConsumer')).toThrow(
      'createConsumer: retry.maxAttempts must be a whole number ≥ 1, got 0.',
    );
    expect(() => resolveRetryPolicy({ factor: 0.5 }, 'x')).toThrow('retry.factor must be ≥ 1');
    expect(() => resolveRetryPolicy({ initialDelayMs: -1 }, 'x')).toThrow('retry.initialDelayMs must be ≥ 0');
  });
});
