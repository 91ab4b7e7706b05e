import type { Shard } from '@aws-sdk/client-kinesis';
import { compareOffsets, type LogRecord, type ReadBatch, type ReadOptions, RiverlogError } from '@riverlog/core';
import { checkReadOptions, type PartitionStart, resolveStart } from '@riverlog/core/backend';
import type { KinesisLogContext } from './context.js';
import type { ShardPageSource, ShardStart } from './shard-reader.js';
import { logRecordsOf, parseOffset } from './wire.js';

/** Where one shard's read starts: a Kinesis start, and for a sub-record offset, the index of the first record to yield. */
interface ShardRead {
  readonly start: ShardStart;
  /** Sub-records of the first record at `start` (AT_SEQUENCE_NUMBER) below this index were read already. */
  readonly fromIndex: number;
}

/**
 * Reads shards of the stream: one page source per shard (GetRecords
 * polling through the process's shared pollers, or enhanced fan-out),
 * batches of at most `batchSize` records per shard in order, records of
 * KPL aggregates unpacked at `<sequence number>.<index>`. A shard yields a
 * caught-up batch each time it reaches the tip (lag `{ ms: 0 }`), and a
 * closed shard an `ended` batch after its last record; a read that does
 * not follow finishes each open shard at its first caught-up batch and each
 * closed shard at its end.
 */
export async function* readKinesis(ctx: KinesisLogContext, options: ReadOptions): AsyncGenerator<ReadBatch> {
  ctx.ensureOpen();
  const { reader, maxEventBytes } = await ctx.connect();
  const { shards } = await ctx.partitions();
  const byId = new Map(shards.map((shard) => [shard.ShardId as string, shard]));
  const checked = checkReadOptions(withPlainOffsets(options), { name: `Kinesis log ${ctx.uri}`, partitions: [...byId.keys()] });
  const follow = options.follow === true;
  const types = options.types ? new Set(options.types) : undefined;
  const controller = ctx.startRead();
  const onAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) controller.abort();
  const streams: AsyncIterator<ReadBatch>[] = [];
  try {
    for (const id of checked.partitions) {
      const start = resolveStart(options.from, id);
      if (start.kind === 'end') {
        streams.push(once({ partition: id, records: [], caughtUp: true, ended: true, lag: { ms: 0 } }));
        continue;
      }
      const shard = byId.get(id) as Shard;
      const read = shardRead(start, shard);
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const source = reader.open(id, read.start, controller.signal);
      streams.push(shardBatches(ctx, source, id, read.fromIndex, { batchSize: checked.batchSize, types, follow, closed, maxEventBytes }));
    }
    yield* merged(streams);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    controller.abort();
    ctx.endRead(controller);
    for (const stream of streams) void stream.return?.(undefined)?.catch(() => undefined);
  }
}

/** The options with sub-record offsets (`<seq>.<i>`) replaced by their sequence number, for core's checks. */
function withPlainOffsets(options: ReadOptions): ReadOptions {
  const from = options.from;
  if (typeof from !== 'object' || from === null || !('after' in from || 'at' in from)) return options;
  const map = ('after' in from ? from.after : from.at) as unknown;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return options;
  const plain: Record<string, unknown> = {};
  for (const [partition, offset] of Object.entries(map)) {
    const parsed = typeof offset === 'string' && offset.includes('.') ? parseOffset(offset) : undefined;
    plain[partition] = parsed ? parsed.sequenceNumber : offset;
  }
  return { ...options, from: ('after' in from ? { after: plain } : { at: plain }) as ReadOptions['from'] };
}

/** The Kinesis start of a partition's read; an offset before the shard's first sequence number starts at its beginning. */
function shardRead(start: Exclude<PartitionStart, { kind: 'end' }>, shard: Shard): ShardRead {
  switch (start.kind) {
    case 'earliest':
      return { start: { type: 'TRIM_HORIZON' }, fromIndex: 0 };
    case 'latest':
      return { start: { type: 'LATEST' }, fromIndex: 0 };
    case 'time':
      return { start: { type: 'AT_TIMESTAMP', timestamp: new Date(start.time) }, fromIndex: 0 };
    case 'after':
    case 'at': {
      const { sequenceNumber, index } = parseOffset(start.offset) as { sequenceNumber: string; index: number | undefined };
      const first = shard.SequenceNumberRange?.StartingSequenceNumber;
      if (first !== undefined && compareOffsets(sequenceNumber, first) < 0) return { start: { type: 'TRIM_HORIZON' }, fromIndex: 0 };
      if (index === undefined) {
        return start.kind === 'after'
          ? { start: { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber }, fromIndex: 0 }
          : { start: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber }, fromIndex: 0 };
      }
      return { start: { type: 'AT_SEQUENCE_NUMBER', sequenceNumber }, fromIndex: start.kind === 'after' ? index + 1 : index };
    }
  }
}

async function* once(batch: ReadBatch): AsyncGenerator<ReadBatch> {
  yield batch;
}

interface ShardReadOptions {
  readonly batchSize: number;
  readonly types: ReadonlySet<string> | undefined;
  readonly follow: boolean;
  /** Listed as closed when the read began: read to its end even when not following. */
  readonly closed: boolean;
  /** Larger records are handed over as unreadable (with `error`), not as events. */
  readonly maxEventBytes: number;
}

function matchesTypes(record: LogRecord, types: ReadonlySet<string> | undefined): boolean {
  if (!types) return true;
  const type = (record.event as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && types.has(type);
}

/** One shard's batches from its page source. */
async function* shardBatches(
  ctx: KinesisLogContext,
  source: ShardPageSource,
  partition: string,
  fromIndex: number,
  options: ShardReadOptions,
): AsyncGenerator<ReadBatch> {
  let skip = fromIndex;
  let wasCaughtUp = false;
  try {
    for (;;) {
      const page = await source.next();
      if (!page) return;
      if (page.childShards) ctx.noteChildren(page.childShards);
      const records: LogRecord[] = [];
      for (const record of page.records) {
        for (const logRecord of logRecordsOf(partition, record, options.maxEventBytes, skip))
          if (matchesTypes(logRecord, options.types)) records.push(logRecord);
        skip = 0;
      }
      const caughtUp = page.atTip || page.ended;
      const lag = { ms: caughtUp ? 0 : Math.max(0, page.millisBehindLatest ?? 0) };
      if (records.length > 0) {
        for (let i = 0; i < records.length; i += options.batchSize) {
          const last = i + options.batchSize >= records.length;
          yield {
            partition,
            records: records.slice(i, i + options.batchSize),
            caughtUp: last && caughtUp,
            ended: last && page.ended,
            lag: last ? lag : { ms: Math.max(0, page.millisBehindLatest ?? 0) },
          };
        }
      } else if (page.ended || (caughtUp && !wasCaughtUp)) {
        yield { partition, records: [], caughtUp: true, ended: page.ended, lag: { ms: 0 } };
      }
      wasCaughtUp = caughtUp;
      if (page.ended) return;
      if (caughtUp && !options.follow && !options.closed) return;
    }
  } finally {
    source.close();
  }
}

/** Batches of several shards as they come; each shard has at most one `next()` under way. */
async function* merged(streams: readonly AsyncIterator<ReadBatch>[]): AsyncGenerator<ReadBatch> {
  type Step = { stream: AsyncIterator<ReadBatch>; result?: IteratorResult<ReadBatch>; error?: unknown };
  const steps: Step[] = [];
  let wake: (() => void) | undefined;
  const pull = (stream: AsyncIterator<ReadBatch>) =>
    stream.next().then(
      (result) => {
        steps.push({ stream, result });
        wake?.();
      },
      (error: unknown) => {
        steps.push({ stream, error: error ?? new RiverlogError('LOG_READ_FAILED', 'a shard read failed') });
        wake?.();
      },
    );
  let open = streams.length;
  for (const stream of streams) pull(stream);
  while (open > 0) {
    if (steps.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    const step = steps.shift() as Step;
    if (step.error !== undefined) throw step.error;
    if (step.result?.done) {
      open--;
      continue;
    }
    yield step.result?.value as ReadBatch;
    pull(step.stream);
  }
}
