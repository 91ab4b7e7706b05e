// Starts the servers integration tests need, once per run, and stops them after.
// Each engine adds itself here; tests read the addresses from `inject()`.
export default async function setup(): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
