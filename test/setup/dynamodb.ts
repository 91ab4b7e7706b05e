// The DynamoDB-compatible server of a test run (dynalite): started once by the
// global setup when the run includes a test whose path mentions dynamo, handed
// to the tests through vitest's provide/inject as `inject('dynamodb')`.
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/** What DynamoDB tests get from `inject('dynamodb')`: an endpoint, or why there is none. */
export type DynamoTestEndpoint =
  | { readonly endpoint: string; readonly pid?: number; readonly reason?: undefined }
  | { readonly endpoint?: undefined; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodb: DynamoTestEndpoint;
  }
}

interface DynaliteHandle {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

interface DynaliteInfra {
  startDynalite(options?: { timeoutMs?: number }): Promise<DynaliteHandle>;
}

/** True when the run includes a test (under test/, examples/ or packages/) whose path mentions dynamo. */
async function runIncludesDynamo(project: TestProject): Promise<boolean> {
  const vitest = project.vitest as typeof project.vitest & { filenamePattern?: string[] };
  const specs = await vitest.globTestSpecifications(vitest.filenamePattern);
  return specs.some((spec) =>
    /^(test|examples|packages)\/.*dynamo/i.test(path.relative(project.config.root, spec.moduleId).split(path.sep).join('/')),
  );
}

/**
 * Provides `dynamodb` to the tests and returns how to stop what it started.
 * `RIVERLOG_DYNAMODB_ENDPOINT` points the tests at your own endpoint. A
 * server that cannot start skips the DynamoDB tests with the reason, except
 * with `CI=true`, where it fails the run.
 */
export async function provideDynamo(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const own = process.env.RIVERLOG_DYNAMODB_ENDPOINT;
  if (own) {
    project.provide('dynamodb', { endpoint: own.trim() });
    return undefined;
  }
  if (!(await runIncludesDynamo(project))) {
    project.provide('dynamodb', { reason: 'no DynamoDB test in this run' });
    return undefined;
  }
  const infra = (await import('../infra/dynalite.mjs' as string)) as DynaliteInfra;
  const started = Date.now();
  try {
    const server = await infra.startDynalite();
    console.log(`[dynamodb] dynalite ${server.endpoint} (pid ${server.pid}) ready in ${Date.now() - started} ms`);
    project.provide('dynamodb', { endpoint: server.endpoint, pid: server.pid });
    return () => server.stop();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    const reason = (error as Error).message;
    console.warn(`[dynamodb] DynamoDB tests skip: ${reason}`);
    project.provide('dynamodb', { reason });
    return undefined;
  }
}
