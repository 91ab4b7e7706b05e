// The Kafka broker of a test run: started once by the global setup when the
// run includes Kafka tests, handed to them through vitest's provide/inject.
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/** What Kafka tests get from `inject('kafka')`: broker addresses, or why there are none. */
export type KafkaTestBroker =
  | { readonly brokers: string[]; readonly pid?: number; readonly port?: number; readonly reason?: undefined }
  | { readonly brokers?: undefined; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: KafkaTestBroker;
  }
}

interface KafkaHandle {
  readonly brokers: string[];
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

interface KafkaInfra {
  startKafka(options?: { heap?: string }): Promise<KafkaHandle>;
}

/** True when the run includes an integration test (under test/ or examples/) whose path mentions Kafka. */
async function runIncludesKafka(project: TestProject): Promise<boolean> {
  const vitest = project.vitest as typeof project.vitest & { filenamePattern?: string[] };
  const specs = await vitest.globTestSpecifications(vitest.filenamePattern);
  return specs.some((spec) =>
    /^(test|examples)\/.*kafka/i.test(path.relative(project.config.root, spec.moduleId).split(path.sep).join('/')),
  );
}

/**
 * Provides `kafka` to the tests and returns how to stop what it started.
 * `RIVERLOG_KAFKA_BROKERS` points the tests at your own broker. Without Java
 * or Maven the Kafka tests skip with the reason, except with `CI=true`,
 * where a broker that cannot start fails the run.
 */
export async function provideKafka(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const own = process.env.RIVERLOG_KAFKA_BROKERS;
  if (own) {
    project.provide('kafka', { brokers: own.split(',').map((b) => b.trim()) });
    return undefined;
  }
  if (!(await runIncludesKafka(project))) {
    project.provide('kafka', { reason: 'no Kafka test in this run' });
    return undefined;
  }
  const infra = (await import('../infra/kafka.mjs' as string)) as KafkaInfra;
  const started = Date.now();
  try {
    const broker = await infra.startKafka({ heap: '512m' });
    console.log(`[kafka] broker ${broker.brokers.join(',')} (pid ${broker.pid}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    project.provide('kafka', { brokers: broker.brokers, pid: broker.pid, port: broker.port });
    return () => broker.stop();
  } catch (error) {
    const unavailable = (error as { code?: string }).code === 'KAFKA_UNAVAILABLE';
    if (process.env.CI === 'true' || !unavailable) throw error;
    const reason = (error as Error).message;
    console.warn(`[kafka] Kafka tests skip: ${reason}`);
    project.provide('kafka', { reason });
    return undefined;
  }
}
