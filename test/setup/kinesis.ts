// The Kinesis emulators of a test run: started once by the global setup when the
// run includes a test whose path mentions Kinesis, handed to the tests through
// vitest's provide/inject.
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/** One emulator as the tests get it: where it answers, or why there is none. */
export type KinesisTestEndpoint =
  | { readonly endpoint: string; readonly region: string; readonly pid?: number; readonly reason?: undefined }
  | { readonly endpoint?: undefined; readonly reason: string };

/** What Kinesis tests get from `inject('kinesis')`. */
export interface KinesisTestEngines {
  /** kinesalite: fast; no throttling, fan-out, ChildShards, StreamARN identifiers. Most tests run here. */
  readonly kinesalite: KinesisTestEndpoint;
  /** kinesis-local (kinesis-mock): faithful (ChildShards, ShardFilter, StreamARN, consumers) but slow. */
  readonly kinesisLocal: KinesisTestEndpoint;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kinesis: KinesisTestEngines;
  }
}

interface EmulatorHandle {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

interface KinesisInfra {
  startKinesalite(): Promise<EmulatorHandle>;
  startKinesisLocal(): Promise<EmulatorHandle>;
}

const REGION = 'us-east-1';

/** True when the run includes an integration test (under test/ or examples/) whose path mentions Kinesis. */
async function runIncludesKinesis(project: TestProject): Promise<boolean> {
  const vitest = project.vitest as typeof project.vitest & { filenamePattern?: string[] };
  const specs = await vitest.globTestSpecifications(vitest.filenamePattern);
  return specs.some((spec) =>
    /^(test|examples)\/.*kinesis/i.test(path.relative(project.config.root, spec.moduleId).split(path.sep).join('/')),
  );
}

/**
 * Provides `kinesis` to the tests and returns how to stop what it started.
 * `RIVERLOG_KINESIS_ENDPOINT` points the tests at your own endpoint (both
 * kinds, unless `RIVERLOG_KINESIS_LOCAL_ENDPOINT` names the faithful one);
 * `RIVERLOG_KINESIS_REGION` sets its region (default us-east-1). An emulator
 * that cannot start makes its tests skip with the reason, except with
 * `CI=true`, where it fails the run.
 */
export async function provideKinesis(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const region = process.env.RIVERLOG_KINESIS_REGION ?? REGION;
  const own = process.env.RIVERLOG_KINESIS_ENDPOINT;
  const ownLocal = process.env.RIVERLOG_KINESIS_LOCAL_ENDPOINT ?? own;
  if (own && ownLocal) {
    project.provide('kinesis', { kinesalite: { endpoint: own, region }, kinesisLocal: { endpoint: ownLocal, region } });
    return undefined;
  }
  if (!(await runIncludesKinesis(project))) {
    const none = { reason: 'no Kinesis test in this run' };
    project.provide('kinesis', { kinesalite: none, kinesisLocal: none });
    return undefined;
  }
  const infra = (await import('../infra/kinesis.mjs' as string)) as KinesisInfra;
  const start = async (name: string, run: () => Promise<EmulatorHandle>, given: string | undefined) => {
    if (given) return { provided: { endpoint: given, region } as KinesisTestEndpoint };
    const started = Date.now();
    try {
      const handle = await run();
      console.log(`[kinesis] ${name} ${handle.endpoint} (pid ${handle.pid}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { provided: { endpoint: handle.endpoint, region, pid: handle.pid } as KinesisTestEndpoint, handle };
    } catch (error) {
      return { provided: { reason: `${name} did not start: ${(error as Error).message}` } as KinesisTestEndpoint, error };
    }
  };
  const [kinesalite, kinesisLocal] = await Promise.all([
    start('kinesalite', () => infra.startKinesalite(), own),
    start('kinesis-local', () => infra.startKinesisLocal(), ownLocal),
  ]);
  const stop = async () => {
    await kinesalite.handle?.stop();
    await kinesisLocal.handle?.stop();
  };
  const failed = [kinesalite, kinesisLocal].filter((engine) => engine.error !== undefined);
  if (failed.length > 0) {
    if (process.env.CI === 'true') {
      await stop();
      throw failed[0]?.error;
    }
    for (const engine of failed) console.warn(`[kinesis] its tests skip: ${engine.provided.reason}`);
  }
  project.provide('kinesis', { kinesalite: kinesalite.provided, kinesisLocal: kinesisLocal.provided });
  return stop;
}
