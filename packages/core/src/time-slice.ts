/**
 * Keeps long synchronous work fair to the event loop: call `due()` between
 * records (cheap: it reads the clock every `checkEvery` calls) and, when it
 * says so, `await slice.pause()` to let timers (lease renewal, heartbeats)
 * and I/O run before going on.
 *
 * @example
 * const slice = timeSlice(); // at most ~10 ms of work between pauses
 * for (const record of batch) {
 *   handle(record);
 *   if (slice.due()) await slice.pause();
 * }
 */
export interface TimeSlice {
  /** True once the slice's time is used up. */
  due(): boolean;
  /** Yields to the event loop (timers and I/O run), then starts a new slice. */
  pause(): Promise<void>;
}

/**
 * A {@link TimeSlice} of `budgetMs` (default 10 ms) of work.
 *
 * @example
 * const slice = timeSlice(5);
 */
export function timeSlice(budgetMs = 10, checkEvery = 64): TimeSlice {
  let start = performance.now();
  let calls = 0;
  return {
    due() {
      if (++calls < checkEvery) return false;
      calls = 0;
      return performance.now() - start >= budgetMs;
    },
    pause() {
      // setTimeout(0), not setImmediate: only the timers phase runs due timers.
      return new Promise((resolve) =>
        setTimeout(() => {
          start = performance.now();
          calls = 0;
          resolve();
        }, 0),
      );
    },
  };
}
