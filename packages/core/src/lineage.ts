import { RiverlogError } from './errors.js';
import { checkOptions } from './options.js';
import { type EventLog, PARTITION_END, type PartitionInfo, type ReadBatch, type ReadFrom, type ReadOptions } from './ports.js';
import type { PositionMap } from './position.js';
import { READ_OPTIONS } from './read-helpers.js';

// Lineage: a child partition's records follow its parents' records, so a
// reader of a whole log finishes every parent before it starts a child. This
// module is that rule, once for every reader (replay, export, consumers and
// views that read without leases) and every backend.

/**
 * The partitions a reader may read now: not finished (its checkpoint offset
 * is not {@link PARTITION_END}) and every parent finished or no longer listed
 * (a parent past the log's retention counts as finished). In the order listed.
 *
 * @example
 * readyPartitions(
 *   [{ id: '0', parents: [], closed: true }, { id: '1', parents: ['0'], closed: false }, { id: '2', parents: ['0'], closed: false }],
 *   { '0': 'end' },
 * ); // ['1', '2']
 */
export function readyPartitions(partitions: readonly PartitionInfo[], checkpoint: PositionMap): string[] {
  const listed = new Set(partitions.map((partition) => partition.id));
  const finished = (id: string) => checkpoint[id] === PARTITION_END;
  return partitions
    .filter((partition) => !finished(partition.id) && partition.parents.every((parent) => finished(parent) || !listed.has(parent)))
    .map((partition) => partition.id);
}

/** How {@link readLineage} reads: the options of `EventLog.read` for the whole log, and how often to look for new partitions. */
export interface LineageReadOptions extends Omit<ReadOptions, 'partitions'> {
  /**
   * How often a following read lists the log's partitions to pick up new
   * ones (a non-following read lists them whenever a partition ends and once
   * more before it finishes). Default 1,000 ms.
   */
  readonly discoverEveryMs?: number;
}

const DEFAULT_DISCOVER_EVERY_MS = 1000;

/**
 * Reads a whole log in lineage order: every partition that is ready (see
 * {@link readyPartitions}) from `from`, a child only once all its parents
 * yielded their `ended` batch, picking up partitions that appear while it
 * runs. Batches are the log's own, so each partition still yields its
 * caught-up batches. Partitions listed when the read starts begin at `from`;
 * partitions found later begin at their earliest record (or at their offset
 * in an `after`/`at` map, or at `from.time`). An `after` map of
 * {@link PARTITION_END} skips a finished partition and lets its children start.
 *
 * Without `follow`, the read finishes once every partition it could reach
 * yielded its caught-up (or ended) batch; children of partitions that ended
 * during the read are read too.
 *
 * @example
 * for await (const batch of readLineage(log, { from: { after: checkpoint }, follow: true, signal })) {
 *   for (const record of batch.records) handle(record);
 *   if (batch.ended) checkpoint = { ...checkpoint, [batch.partition]: PARTITION_END };
 * }
 */
export async function* readLineage(log: EventLog, options: LineageReadOptions = {}): AsyncGenerator<ReadBatch> {
  checkOptions('readLineage', options, [...READ_OPTIONS.filter((name) => name !== 'partitions'), 'discoverEveryMs']);
  const { discoverEveryMs = DEFAULT_DISCOVER_EVERY_MS, signal: outer, ...readOptions } = options;
  if (!(Number.isFinite(discoverEveryMs) && discoverEveryMs > 0)) {
    throw new RiverlogError('INVALID_OPTION', `readLineage: discoverEveryMs must be a number > 0, got ${String(discoverEveryMs)}.`);
  }
  const from = readOptions.from ?? 'earliest';
  // Ends every read this reader started when it finishes, whatever way: a following read would wait forever otherwise.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted) stop.abort();

  const finished: Record<string, string> = {};
  if (typeof from === 'object' && 'after' in from) {
    for (const [id, offset] of Object.entries(from.after)) if (offset === PARTITION_END) finished[id] = PARTITION_END;
  }
  const started = new Set<string>();
  let listedAtStart: Set<string> | undefined;

  // Each read has at most one `next()` under way; what settles lands in `steps`, in order.
  interface Reader {
    readonly iterator: AsyncIterator<ReadBatch>;
  }
  type Step =
    | { readonly reader: Reader; readonly result: IteratorResult<ReadBatch> }
    | { readonly reader: Reader; readonly error: unknown }
    | 'discover'
    | 'stopped';
  const readers = new Set<Reader>();
  const steps: Step[] = [];
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function push(step: Step): void {
    steps.push(step);
    wake?.();
    wake = undefined;
  }
  function pull(reader: Reader): void {
    reader.iterator.next().then(
      (result) => push({ reader, result }),
      (error: unknown) => push({ reader, error }),
    );
  }
  async function nextStep(): Promise<Step> {
    if (steps.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return steps.shift() as Step;
  }
  const onStop = () => push('stopped');
  stop.signal.addEventListener('abort', onStop, { once: true });

  function fromFor(id: string): ReadFrom {
    if (listedAtStart?.has(id) || typeof from === 'object') return from;
    return 'earliest'; // Found after the read started: every record of it is new, also for 'latest'.
  }

  /** Lists the partitions and starts a read of those newly ready; resolves with how many. */
  async function discover(): Promise<number> {
    const partitions = await log.partitions();
    listedAtStart ??= new Set(partitions.map((partition) => partition.id));
    const ready = readyPartitions(partitions, finished).filter((id) => !started.has(id));
    // One read per start: partitions listed at start with 'latest', others from their earliest record.
    const groups = new Map<ReadFrom, string[]>();
    for (const id of ready) {
      started.add(id);
      const start = fromFor(id);
      groups.set(start, [...(groups.get(start) ?? []), id]);
    }
    for (const [start, ids] of groups) {
      const reader: Reader = {
        iterator: log.read({ ...readOptions, from: start, partitions: ids, signal: stop.signal })[Symbol.asyncIterator](),
      };
      readers.add(reader);
      pull(reader);
    }
    return ready.length;
  }

  try {
    if (stop.signal.aborted) return;
    await discover();
    for (;;) {
      if (stop.signal.aborted) return;
      if (readers.size === 0 && !readOptions.follow) {
        // Everything reached is caught up: one last look for children of partitions that ended meanwhile.
        if ((await discover()) === 0) return;
        continue;
      }
      if (readOptions.follow && timer === undefined) timer = setTimeout(() => push('discover'), discoverEveryMs);
      const step = await nextStep();
      if (step === 'stopped') return;
      if (step === 'discover') {
        timer = undefined;
        await discover();
        continue;
      }
      if ('error' in step) throw step.error;
      if (step.result.done) {
        readers.delete(step.reader);
        continue;
      }
      const batch = step.result.value;
      pull(step.reader);
      yield batch;
      if (batch.ended) {
        finished[batch.partition] = PARTITION_END;
        await discover();
      }
    }
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
    stop.signal.removeEventListener('abort', onStop);
    if (timer) clearTimeout(timer);
    stop.abort();
    for (const reader of readers) void reader.iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * Where each of `partitions` ends now: reads each from `after` up to its
 * caught-up batch and returns, per partition, the offset of the last record
 * seen, {@link PARTITION_END} for a partition that ended, or the `after`
 * offset (nothing when there is none) for a partition with no records past
 * it. What `caughtUp()` of consumers and views waits for: every record the
 * log held when it was called. `types` limits the records looked at (the
 * reader's own filter).
 *
 * @example
 * const target = await readEnds(log, ['0', '1'], checkpoint);
 * // caught up once, for every partition, checkpoint[p] reached target[p]
 */
export async function readEnds(
  log: EventLog,
  partitions: readonly string[],
  after: PositionMap,
  options: Pick<ReadOptions, 'types' | 'signal' | 'batchSize'> = {},
): Promise<PositionMap> {
  const ends: Record<string, string> = {};
  for (const id of partitions) if (after[id] !== undefined) ends[id] = after[id] as string;
  if (partitions.length === 0) return ends;
  const from = { after: Object.fromEntries(partitions.filter((id) => after[id] !== undefined).map((id) => [id, after[id] as string])) };
  for await (const batch of log.read({ ...options, partitions, from })) {
    const last = batch.records[batch.records.length - 1];
    if (last) ends[batch.partition] = last.position.offset;
    if (batch.ended) ends[batch.partition] = PARTITION_END;
  }
  return ends;
}
