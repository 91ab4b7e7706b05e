import { kinesisEvent, lambdaContext, mskEvent } from '@riverlog/consumer/lambda';
import type { LogRecord, PositionMap, ReadFrom } from '@riverlog/core';
import { backoffPolicy, PARTITION_END } from '@riverlog/core';
import { readLineage } from '@riverlog/core/backend';
import type { Command } from 'commander';
import { formatPositions, parseFrom, wholeNumber } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { loadFunction } from '../modules.js';
import type { Output } from '../output.js';
import { examples, type Run } from '../program-kit.js';

interface LambdaOptions {
  readonly shape: 'kinesis' | 'msk';
  readonly batchSize: number;
  readonly from?: string;
  readonly follow?: boolean;
  readonly maxRetries: number;
  readonly bisect?: boolean;
  readonly functionName: string;
  readonly timeout: number;
  readonly region: string;
  readonly source?: string;
}

/** Where the events say they come from: the region, the stream (Kinesis) or topic (MSK), and the log's partitions (an MSK partition is numbered by its index here unless it is a number). */
interface EventSource {
  readonly region: string;
  readonly name: string;
  readonly partitions: string[];
}

type LambdaHandler = (event: unknown, context: unknown, callback?: (error: unknown, result?: unknown) => void) => unknown;

/** What one invocation returned: nothing failed, these records failed (from the lowest on), or the function failed. */
type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'partial'; readonly from: number }
  | { readonly kind: 'error'; readonly error: string };

export function registerLambda(program: Command, run: Run): void {
  const command = program
    .command('lambda')
    .argument('<module>', "the function's module, with #export (default: handler), e.g. ./dist/index.js#handler")
    .description(
      'Run a Lambda handler locally against the log with the exact Kinesis or MSK event shapes, in batches, honouring batchItemFailures as the event source mapping does.',
    )
    .option(
      '--shape <shape>',
      'kinesis or msk',
      (v) => {
        if (v !== 'kinesis' && v !== 'msk') throw new UsageError(`--shape ${JSON.stringify(v)}: expected kinesis or msk.`);
        return v;
      },
      'kinesis',
    )
    .option('--batch-size <n>', 'most records per invocation (BatchSize)', wholeNumber(1), 100)
    .option(
      '--from <start>',
      'where to start without a checkpoint: earliest (TRIM_HORIZON, default), latest, an ISO time (AT_TIMESTAMP) or positions',
    )
    .option('--follow', 'keep polling the end of the log, as the mapping does, until interrupted')
    .option(
      '--max-retries <n>',
      'MaximumRetryAttempts: -1 (default, as AWS) retries a failing batch until it succeeds; after n retries the batch is discarded',
      (v) => {
        if (!/^-?\d+$/.test(v) || Number(v) < -1)
          throw new UsageError(`--max-retries ${JSON.stringify(v)}: expected -1 or a whole number ≥ 0.`);
        return Number(v);
      },
      -1,
    )
    .option('--bisect', 'BisectBatchOnFunctionError: split a batch whose invocation failed in two and retry each half')
    .option('--function-name <name>', 'the function name in the context (and the checkpoint group lambda:<name>)', 'riverlog-local')
    .option('--timeout <seconds>', 'the function timeout: context.getRemainingTimeInMillis counts down from it', wholeNumber(1), 60)
    .option('--region <region>', 'awsRegion of the events', 'us-east-1')
    .option('--source <name>', 'the stream (kinesis) or topic (msk) name in the events (default: from the log URI)');
  examples(command, [
    'riverlog lambda ./dist/photo-assignment-lambda.js#handler --log sqlite:./retail.db --checkpoints sqlite:./lambda.db',
    'riverlog lambda ./dist/index.js --shape msk --log kafka://127.0.0.1:9092/retail-stream --batch-size 10',
    'riverlog lambda ./fn.mjs --follow --max-retries 3 --bisect --json',
  ]);
  command.addHelpText(
    'after',
    "\nAs the event source mapping: each partition (shard) is read in order, one batch in flight; a response naming\nbatchItemFailures checkpoints before the lowest one named, and the retry is a new batch from it, filled up to\n--batch-size with the records after it; a function error (a throw), a timeout or a malformed response retries the\nwhole batch (--bisect: split in two, each half retried on its own, which does not count as a retry); with\n--max-retries n a batch whose first record failed n+1 times is discarded (exit 1 at the end). With --checkpoints the\nposition is kept under the group lambda:<function-name>. Retries wait by riverlog's backoff policy (100 ms doubling to 5 s).\n",
  );
  command.action(
    run<LambdaOptions>(async ({ ctx, out, options, args, signal }) => {
      const handler = await loadFunction<LambdaHandler>(args[0] as string, ctx.cwd, 'handler', 'Lambda handler module');
      const log = await ctx.log();
      const checkpoints = await ctx.checkpoints({ create: true });
      const group = `lambda:${options.functionName}`;
      const saved: PositionMap = checkpoints ? await checkpoints.load(group) : {};
      const from: ReadFrom = Object.keys(saved).length > 0 ? { after: saved } : parseFrom(options.from, 'earliest');
      const source: EventSource = {
        region: options.region,
        name: options.source ?? sourceName(ctx.logUri() ?? log.uri),
        partitions: (await log.partitions()).map((p) => p.id),
      };
      const runner = new MappingRunner(handler, options, source, out, signal);
      const positions: Record<string, string> = { ...saved };
      const checkpoint = async (partition: string, offset: string) => {
        positions[partition] = offset;
        await checkpoints?.save(group, { [partition]: offset });
      };
      const feeds = new Map<string, PartitionFeed>();
      for await (const batch of readLineage(log, {
        from,
        follow: options.follow === true,
        signal,
        batchSize: Math.max(options.batchSize, 100),
      })) {
        // A shard that appears later (a split under --follow) is numbered after those listed at the start.
        if (!source.partitions.includes(batch.partition)) source.partitions.push(batch.partition);
        const feed = feeds.get(batch.partition) ?? new PartitionFeed(batch.partition);
        feeds.set(batch.partition, feed);
        feed.pending.push(...batch.records);
        // Records still to come of this read complete a batch; at the end of what the partition holds, a short one goes.
        await runner.drain(feed, batch.caughtUp || batch.ended, checkpoint);
        if (batch.ended && feed.pending.length === 0 && !signal.aborted) await checkpoint(batch.partition, PARTITION_END);
        if (signal.aborted) break;
      }
      for (const feed of feeds.values()) if (!signal.aborted) await runner.drain(feed, true, checkpoint);
      const report = { ...runner.counts, positions };
      if (out.json) out.data({ summary: report });
      else
        out.line(
          `${runner.counts.discarded ? out.color.red('✗') : out.color.green('✓')} ${runner.counts.records} records in ${runner.counts.invocations} invocations (${runner.counts.retries} retries${runner.counts.discarded ? `, ${runner.counts.discarded} records discarded` : ''}), up to ${formatPositions(positions) || 'nothing'}`,
        );
      return runner.counts.discarded > 0 ? EXIT.failure : EXIT.ok;
    }),
  );
}

function sourceName(uri: string): string {
  const kafka = /^kafka:\/\/[^/]*\/([^?]+)/i.exec(uri);
  if (kafka) return decodeURIComponent(kafka[1] as string);
  const base = /([^/:]+?)(\.db)?(\?.*)?$/.exec(uri);
  return base?.[1] ?? 'riverlog';
}

/** One partition's records read and not yet delivered, and how many times in a row the first of them failed. */
class PartitionFeed {
  readonly pending: LogRecord[] = [];
  failures = 0;
  constructor(readonly partition: string) {}
}

type Checkpoint = (partition: string, offset: string) => Promise<void>;

/** Runs the batches of one log through the handler as an event source mapping does. */
class MappingRunner {
  readonly counts = { records: 0, invocations: 0, retries: 0, discarded: 0 };
  private readonly backoff = backoffPolicy({ initialMs: 100, maxMs: 5000 });

  constructor(
    private readonly handler: LambdaHandler,
    private readonly options: LambdaOptions,
    private readonly source: EventSource,
    private readonly out: Output,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Invokes the handler with the partition's pending records, batch after
   * batch, while a whole batch is there (or any record, with `flush`). As the
   * mapping reads the shard again from the record a partial failure names, the
   * retry is a new batch from that record, filled up to the batch size with the
   * records after it.
   */
  async drain(feed: PartitionFeed, flush: boolean, checkpoint: Checkpoint): Promise<void> {
    const size = this.options.batchSize;
    while (!this.signal.aborted && (feed.pending.length >= size || (flush && feed.pending.length > 0))) {
      const batch = feed.pending.slice(0, size);
      const outcome = await this.invoke(batch, feed.failures);
      if (this.signal.aborted) return;
      if (outcome.kind === 'ok') {
        this.counts.records += batch.length;
        feed.failures = 0;
        await this.consume(feed, batch.length, checkpoint);
        continue;
      }
      if (outcome.kind === 'error' && this.options.bisect && batch.length > 1) {
        // Each half is a batch of its own, with its own retries.
        const half = Math.ceil(batch.length / 2);
        await this.process(batch.slice(0, half), 0);
        await this.process(batch.slice(half), 0);
        if (this.signal.aborted) return;
        feed.failures = 0;
        await this.consume(feed, batch.length, checkpoint);
        continue;
      }
      // Checkpointed before the lowest failure: what came before it is done, and the failed record has failed once.
      const from = outcome.kind === 'partial' ? outcome.from : 0;
      this.counts.records += from;
      feed.failures = from > 0 ? 1 : feed.failures + 1;
      if (from > 0) await this.consume(feed, from, checkpoint);
      if (this.options.maxRetries >= 0 && feed.failures > this.options.maxRetries) {
        const dropped = batch.length - from;
        this.discard(batch.slice(from), outcome);
        feed.failures = 0;
        await this.consume(feed, dropped, checkpoint);
        continue;
      }
      this.counts.retries++;
      await sleep(this.backoff.delay(feed.failures), this.signal);
    }
  }

  /** Removes the first `count` pending records as done and checkpoints the last of them. */
  private async consume(feed: PartitionFeed, count: number, checkpoint: Checkpoint): Promise<void> {
    const done = feed.pending.splice(0, count);
    const last = done[done.length - 1];
    if (last) await checkpoint(feed.partition, last.position.offset);
  }

  /** Delivers a fixed set of records (a bisected half) until all succeeded or were discarded. */
  private async process(records: readonly LogRecord[], retried: number): Promise<void> {
    let pending = records;
    let retries = retried;
    while (pending.length > 0 && !this.signal.aborted) {
      const outcome = await this.invoke(pending, retries);
      if (outcome.kind === 'ok') {
        this.counts.records += pending.length;
        return;
      }
      if (outcome.kind === 'error' && this.options.bisect && pending.length > 1) {
        const half = Math.ceil(pending.length / 2);
        await this.process(pending.slice(0, half), 0);
        await this.process(pending.slice(half), 0);
        return;
      }
      const from = outcome.kind === 'partial' ? outcome.from : 0;
      this.counts.records += from;
      pending = pending.slice(from);
      retries = from > 0 ? 1 : retries + 1;
      if (this.options.maxRetries >= 0 && retries > this.options.maxRetries) {
        this.discard(pending, outcome);
        return;
      }
      this.counts.retries++;
      await sleep(this.backoff.delay(retries), this.signal);
    }
  }

  private async invoke(records: readonly LogRecord[], attempt: number): Promise<Outcome> {
    const { region, name, partitions } = this.source;
    const event =
      this.options.shape === 'kinesis'
        ? kinesisEvent(records, { streamArn: `arn:aws:kinesis:${region}:123456789012:stream/${name}` })
        : mskEvent(records, {
            topic: name,
            clusterArn: `arn:aws:kafka:${region}:123456789012:cluster/riverlog-local/00000000-0000-0000-0000-000000000000-1`,
            logPartitions: partitions,
          });
    const context = lambdaContext({ functionName: this.options.functionName, region, remainingMs: this.options.timeout * 1000 });
    this.counts.invocations++;
    let outcome: Outcome;
    try {
      const response = await withTimeout(call(this.handler, event, context), this.options.timeout * 1000);
      outcome = this.read(response, records);
    } catch (error) {
      outcome = { kind: 'error', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    const first = records[0]?.position;
    const last = records[records.length - 1]?.position;
    const line = {
      partition: first?.partition,
      records: records.length,
      first: first?.offset,
      last: last?.offset,
      retry: attempt,
      result: outcome.kind,
      ...(outcome.kind === 'partial' ? { failedFrom: records[outcome.from]?.position.offset } : {}),
      ...(outcome.kind === 'error' ? { error: outcome.error } : {}),
    };
    if (this.out.json) this.out.data({ invocation: line });
    else {
      const c = this.out.color;
      const what =
        outcome.kind === 'ok'
          ? c.green('ok')
          : outcome.kind === 'partial'
            ? c.yellow(`failed from ${line.failedFrom}`)
            : c.red(`error: ${outcome.error}`);
      this.out.line(
        `invoke ${line.partition}:${line.first}-${line.last} (${records.length} records${attempt ? `, retry ${attempt}` : ''}) → ${what}`,
      );
    }
    return outcome;
  }

  /** The response's batchItemFailures as the index of the lowest failed record; an identifier not in the batch fails it whole. */
  private read(response: unknown, records: readonly LogRecord[]): Outcome {
    const failures = (response as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
    if (failures === undefined || failures === null) return { kind: 'ok' };
    if (!Array.isArray(failures)) return { kind: 'error', error: 'batchItemFailures is not a list' };
    if (failures.length === 0) return { kind: 'ok' };
    let lowest = Number.POSITIVE_INFINITY;
    for (const failure of failures) {
      const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
      const index = records.findIndex((record) =>
        this.options.shape === 'kinesis'
          ? id === record.position.offset
          : typeof id === 'object' && id !== null && Number((id as { offset?: unknown }).offset) === Number(record.position.offset),
      );
      // As the mapping: an empty, null or unknown identifier fails the whole batch.
      if (index < 0) return { kind: 'error', error: `batchItemFailures names ${JSON.stringify(id)}, not a record of the batch` };
      lowest = Math.min(lowest, index);
    }
    return { kind: 'partial', from: lowest };
  }

  private discard(records: readonly LogRecord[], outcome: Outcome): void {
    this.counts.discarded += records.length;
    const first = records[0]?.position;
    const last = records[records.length - 1]?.position;
    const discard = {
      records: records.length,
      partition: first?.partition,
      first: first?.offset,
      last: last?.offset,
      reason: outcome.kind === 'error' ? outcome.error : 'batchItemFailures',
    };
    if (this.out.json) this.out.data({ discarded: discard });
    else
      this.out.note(
        `${this.out.errColor.red('discarded')} ${discard.records} records ${discard.partition}:${discard.first}-${discard.last} after ${this.options.maxRetries} retries: ${discard.reason}`,
      );
  }
}

/** Calls a handler in either style: a promise, or a callback (three parameters). */
function call(handler: LambdaHandler, event: unknown, context: unknown): Promise<unknown> {
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const result = handler(event, context, (error, value) => (error ? reject(error) : resolve(value)));
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(resolve, reject);
    });
  }
  return Promise.resolve().then(() => handler(event, context));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Task timed out after ${(ms / 1000).toFixed(2)} seconds`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => resolve(clearTimeout(timer)), { once: true });
  });
}
