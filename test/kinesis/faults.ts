// Throttling that neither emulator does: a middleware on a real Kinesis client that refuses a share of
// PutRecords entries (partial failures, the refused entries never reach the server) and of GetRecords
// calls, both with ProvisionedThroughputExceededException, as Kinesis answers over a shard's limits.
import {
  type GetRecordsCommandInput,
  type KinesisClient,
  ProvisionedThroughputExceededException,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';

export interface ThroughputFaultOptions {
  /** Share of PutRecords entries refused (0..1). */
  readonly putRecordsEntries: number;
  /** Share of GetRecords calls refused (0..1). */
  readonly getRecordsCalls: number;
  /** Seed of the choice, so a failing run can be replayed. */
  readonly seed?: number;
}

export interface ThroughputFaults {
  readonly seed: number;
  /** Calls and entries seen and refused so far. */
  readonly counts: {
    putRecordsCalls: number;
    putRecordsEntries: number;
    putRecordsEntriesRefused: number;
    getRecordsCalls: number;
    getRecordsCallsRefused: number;
  };
  /** Stops injecting (the middleware stays, passing everything through). */
  stop(): void;
}

/** A small seeded generator (mulberry32): the test's faults are reproducible from the seed it prints. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function throttled(what: string): ProvisionedThroughputExceededException {
  return new ProvisionedThroughputExceededException({
    message: `Rate exceeded for ${what} (injected by the test).`,
    $metadata: { httpStatusCode: 400 },
  });
}

/**
 * Adds the fault middleware to `client` (before the SDK's own retries, so
 * refused calls reach the caller as they would after those retries ran out).
 *
 * @example
 * const faults = injectThroughputFaults(client, { putRecordsEntries: 0.3, getRecordsCalls: 0.3 });
 */
export function injectThroughputFaults(client: KinesisClient, options: ThroughputFaultOptions): ThroughputFaults {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  let active = true;
  const counts = {
    putRecordsCalls: 0,
    putRecordsEntries: 0,
    putRecordsEntriesRefused: 0,
    getRecordsCalls: 0,
    getRecordsCallsRefused: 0,
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!active) return next(args);
      if (context.commandName === 'GetRecordsCommand') {
        counts.getRecordsCalls++;
        if (random() < options.getRecordsCalls) {
          counts.getRecordsCallsRefused++;
          const input = args.input as GetRecordsCommandInput;
          throw throttled(`GetRecords (iterator …${String(input.ShardIterator).slice(-8)})`);
        }
        return next(args);
      }
      if (context.commandName !== 'PutRecordsCommand') return next(args);
      counts.putRecordsCalls++;
      const input = args.input as PutRecordsCommandInput;
      const entries = input.Records ?? [];
      counts.putRecordsEntries += entries.length;
      const refused = entries.map(() => random() < options.putRecordsEntries);
      const sent = entries.filter((_, i) => !refused[i]);
      counts.putRecordsEntriesRefused += entries.length - sent.length;
      let answered: PutRecordsResultEntry[] = [];
      let output: PutRecordsCommandOutput | undefined;
      if (sent.length > 0) {
        const result = await next({ ...args, input: { ...input, Records: sent } });
        output = result.output as PutRecordsCommandOutput;
        answered = output.Records ?? [];
      }
      let k = 0;
      const records: PutRecordsResultEntry[] = entries.map((_, i) =>
        refused[i]
          ? {
              ErrorCode: 'ProvisionedThroughputExceededException',
              ErrorMessage: 'Rate exceeded for shard (injected by the test).',
            }
          : (answered[k++] as PutRecordsResultEntry),
      );
      const failed = records.filter((record) => record.ErrorCode !== undefined).length;
      return {
        output: {
          ...(output ?? { $metadata: { httpStatusCode: 200 } }),
          Records: records,
          FailedRecordCount: failed,
        } as PutRecordsCommandOutput,
        response: undefined,
      };
    },
    { step: 'initialize', name: 'riverlogTestThroughputFaults' },
  );
  return {
    seed,
    counts,
    stop() {
      active = false;
    },
  };
}
