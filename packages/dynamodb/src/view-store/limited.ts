/**
 * Runs `work` over `items` with at most `limit` calls under way, and once
 * one fails starts no more: resolves when all started ones have settled,
 * rejecting with the first failure.
 *
 * @example
 * await eachLimited(rows, 32, (row) => putRow(row));
 */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
