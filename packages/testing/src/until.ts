/**
 * Waits until `condition` holds, checking every 5 ms, or throws after
 * `timeoutMs` naming `what` it waited for. `failure` may return an error that
 * ends the wait early (a background task that already failed).
 *
 * @example
 * await until(() => handled.length === 100, 'all 100 events handled', 10_000);
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
  failure?: () => unknown,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    const error = failure?.();
    if (error) throw error;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
