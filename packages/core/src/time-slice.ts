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
      // setImmediate, not setTimeout(0), whose 1 ms floor cost ~7% of a catch-up's wall time.
      // A callback run by setImmediate runs in the check phase; the next pause's callback
      // then waits for the following loop iteration, whose timers phase runs due timers:
      // a due timer waits at most two slices.
      return new Promise((resolve) =>
        setImmediate(() => {
          start = performance.now();
          calls = 0;
          resolve();
        }),
      );
    },
  };
}
