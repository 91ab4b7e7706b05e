// Starts the servers integration tests need, once per run, and stops them after.
// Each engine adds itself here; tests read the addresses from `inject()`.
import type { TestProject } from 'vitest/node';
import { provideDynamo } from './dynamodb.js';
import { provideKafka } from './kafka.js';
import { provideKinesis } from './kinesis.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const stopKafka = await provideKafka(project);
  if (stopKafka) stops.push(stopKafka);
  const stopDynamo = await provideDynamo(project);
  if (stopDynamo) stops.push(stopDynamo);
  const stopKinesis = await provideKinesis(project);
  if (stopKinesis) stops.push(stopKinesis);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
