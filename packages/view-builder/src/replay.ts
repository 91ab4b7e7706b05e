import type { Envelope, EventLog, EventTypeOf, LogRecord, Position, PositionMap, ReadBatch, ReadFrom, ViewStore } from '@riverlog/core';
import { compareOffsets, decodeRecord, defaultBackoff, RiverlogError, readEnds } from '@riverlog/core';
import { checkOptions, readLineage, timeSlice } from '@riverlog/core/backend';
import { Committer } from './committer.js';
import type { OnUnreadable } from './decode.js';
import type { AnyCatalog, AnyView, EventOfType, View } from './define-view.js';
import type { FoldUnit } from './fold.js';
import { Folder } from './folder.js';
import { reached } from './progress.js';
import { Retries } from './retries.js';
import { type SkippedRecord, SkipReporter, type SkipReporting } from './skips.js';

/** Where a replay starts: `'earliest'`, a `ReadFrom`, a time (`Date`), or a position map (each offset included). */
export type ReplayFrom = ReadFrom | Date | PositionMap;
/** Where a replay ends: a position map (each offset included; partitions not named are not read) or a time (events whose `time` is after it are not replayed). Default: the end of the log as the read reaches it. */
export type ReplayTo = PositionMap | Date | { readonly time: Date | string | number };

/** How far a replay got. */
export interface ReplayProgress {
  /** Records read (within the `to` bound). */
  readonly records: number;
  /** Events given to the handler or folded into the view. */
  readonly events: number;
  /** Records skipped as undecodable (or whose view handler threw), each reported. */
  readonly skipped: number;
  /** The last offset read per partition. */
  readonly positions: PositionMap;
}

export type ReplayResult = ReplayProgress;

/** Receives each replayed event with its position; may be async (awaited in order). */
export type ReplayHandler<E> = (event: E, position: Position) => void | Promise<void>;

interface ReplayBase extends SkipReporting {
  readonly log: EventLog;
  /** Default: the end of the log as the read reaches it (a replay never waits for more). */
  readonly to?: ReplayTo;
  /** Largest batch read at once. Default 1,000. */
  readonly batchSize?: number;
  /**
   * Into a view: most records folded into one commit, and most rows it
   * writes (within the store's `limits.maxRowsPerCommit`); a whole number
   * ≥ 1. Default 2,000 (`runView`'s is 1,000): a replay shares no
   * partitions and renews no leases, so it takes fewer, larger commits —
   * each writes a page of an index once however many of its entries changed.
   *
   * @example
   * await replay({ log, into: products, store, commitSize: 1_000 }); // shorter synchronous SQLite commits
   */
  readonly commitSize?: number;
  /** Called after each batch. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Ends the replay early; it then resolves with how far it got. */
  readonly signal?: AbortSignal;
}

/** `replay` into a handler. */
export interface ReplayToHandlerOptions<C extends AnyCatalog, T extends EventTypeOf<C>> extends ReplayBase {
  /** Decodes (and upcasts) the records. */
  readonly catalog: C;
  /** Default `'earliest'`. */
  readonly from?: ReplayFrom;
  /** Only events of these types (filtered in the backend where it can). */
  readonly types?: readonly T[];
  /** Only events of these subjects. */
  readonly subjects?: readonly string[];
  readonly into: ReplayHandler<EventOfType<C, T>>;
}

/**
 * `replay` into a view, folded into a store. A view is a fold of the whole
 * log and its checkpoint moves past everything read, so the replay always
 * resumes right after the view's checkpoint and folds every event of the
 * view's types from there: no `types` or `subjects`, and no `from` past the
 * checkpoint (each refused with `INVALID_OPTION`). `to` may stop it early.
 */
export interface ReplayToViewOptions<V extends AnyView> extends ReplayBase {
  /** Default: the view's catalog. */
  readonly catalog?: AnyCatalog;
  /**
   * Default, and the only useful value: `'earliest'` — the replay resumes after
   * the view's checkpoint anyway. Positions at or before the checkpoint are
   * accepted; a `from` that would skip events after it is refused.
   */
  readonly from?: ReplayFrom;
  /** Not accepted into a view (it would move the checkpoint past events never folded): replay into a handler to filter. */
  readonly types?: never;
  /** Not accepted into a view (it would move the checkpoint past events never folded): replay into a handler to filter. */
  readonly subjects?: never;
  readonly into: V;
  /** Where the view's table is; the replay folds what comes after its checkpoint. */
  readonly store: ViewStore;
  /** An event of a folded type this catalog cannot read yet: `'stop'` (default) rejects before it, `'dead-letter'` reports it and goes on. */
  readonly onUnreadable?: OnUnreadable;
}

/**
 * A replay's default `commitSize`. The pages of a view's indexes are written
 * once per commit that touches them: in the views benchmark's 1M-event
 * replay (a byCategory index, its entries scattered) commits of 2,000–3,000
 * records wrote 25–30% fewer pages than commits of 1,000 and spent ~30% less
 * time committing; larger units (kept across several batches) made more
 * garbage survive, and at 5,000 peak RSS passed 200 MB.
 */
const DEFAULT_REPLAY_COMMIT_SIZE = 2_000;

const KNOWN = [
  'log',
  'catalog',
  'from',
  'to',
  'types',
  'subjects',
  'into',
  'store',
  'batchSize',
  'commitSize',
  'onProgress',
  'onSkip',
  'deadLetters',
  'onUnreadable',
  'signal',
];

/**
 * Reads the log — every partition in lineage order (parents before
 * children) — from the start, a position or a time, to a position, a time
 * or the end, filtered by type and subject, into a handler; or folds it
 * into a view, resuming after the view's checkpoint (unfiltered: see
 * {@link ReplayToViewOptions}). Events are decoded (and upcast) with the
 * catalog; records that do not decode are reported through `onSkip` /
 * `deadLetters` (or a warning), never dropped silently.
 *
 * @example
 * await replay({
 *   log,
 *   catalog,
 *   from: new Date('2026-01-01'),
 *   types: ['product/purchase'],
 *   into: (event, position) => console.log(position.offset, event.data.id),
 * });
 */
export function replay<V extends AnyView>(options: ReplayToViewOptions<V>): Promise<ReplayResult>;
export function replay<C extends AnyCatalog, T extends EventTypeOf<C> = EventTypeOf<C>>(
  options: ReplayToHandlerOptions<C, T>,
): Promise<ReplayResult>;
export async function replay(options: ReplayToViewOptions<AnyView> | ReplayToHandlerOptions<AnyCatalog, string>): Promise<ReplayResult> {
  checkOptions('replay', options, KNOWN);
  const { log, into } = options;
  const view = typeof into === 'function' ? undefined : (into as View);
  const store = view ? (options as ReplayToViewOptions<AnyView>).store : undefined;
  if (view && !store) throw new RiverlogError('INVALID_OPTION', `replay into view ${view.table}: pass the store to fold it into.`);
  const catalog = options.catalog ?? view?.catalog;
  if (!catalog) throw new RiverlogError('INVALID_OPTION', 'replay: pass the catalog to decode events with.');
  const batchSize = options.batchSize ?? 1000;
  for (const [name, value] of [
    ['batchSize', batchSize],
    ['commitSize', options.commitSize ?? DEFAULT_REPLAY_COMMIT_SIZE],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RiverlogError('INVALID_OPTION', `replay: ${name} must be a whole number ≥ 1, got ${String(value)}.`);
    }
  }
  if (view) refuseFilters(view, options);
  const { limits, untilTime } = resolveEnd(options.to);
  const reporter = new SkipReporter(options);
  const counters = { records: 0, events: 0, skipped: 0 };
  const positions: Record<string, string> = {};
  const progress = (extra = 0): ReplayProgress => ({ ...counters, events: counters.events + extra, positions: { ...positions } });
  if (options.signal?.aborted) return progress();

  const sink = view && store ? await viewSink(view, store, options as ReplayToViewOptions<AnyView>, reporter, counters) : undefined;
  const from = sink ? await sink.from(options.from, limits) : resolveFrom(options.from);
  const types = view ? view.types : options.types;
  // What the log stores them under: each type and its former names (renamedFrom); decoded events carry the new name.
  const readTypes = view ? view.readTypes : types && (catalog as AnyCatalog).storedTypes(types as readonly string[]);
  const subjects = !view && options.subjects ? new Set(options.subjects) : undefined;
  const handler = view ? undefined : (into as ReplayHandler<Envelope>);
  const slice = timeSlice();
  const finished = new Set<string>();

  const read: AsyncIterable<ReadBatch> = limits
    ? log.read({ from, partitions: Object.keys(limits), batchSize, ...(readTypes ? { types: readTypes } : {}), ...signalOf(options) })
    : readLineage(log, { from, batchSize, ...(readTypes ? { types: readTypes } : {}), ...signalOf(options) });
  for await (const batch of read) {
    const partition = batch.partition;
    if (finished.has(partition)) continue;
    const inRange = withinBounds(batch, limits?.[partition], untilTime);
    const cut = inRange.length < batch.records.length;
    if (cut || (limits && reachedBound(batch, limits[partition]))) finished.add(partition);
    const records = subjects ? inRange.filter((record) => keepSubject(record, subjects)) : inRange;
    counters.records += inRange.length;
    if (sink) await sink.add({ ...batch, records, ended: batch.ended && !cut });
    else await handle(records);
    const last = inRange[inRange.length - 1];
    if (last) positions[partition] = last.position.offset;
    options.onProgress?.(progress(sink?.pending() ?? 0));
    if (limits && finished.size === Object.keys(limits).length) break;
  }
  if (sink) await sink.finish();
  return progress();

  async function handle(records: readonly LogRecord[]): Promise<void> {
    const skipped: SkippedRecord[] = [];
    for (const record of records) {
      const decoded = decodeRecord(catalog as AnyCatalog, record);
      if (decoded._tag === 'Left') {
        const code = decoded.left.code === 'UNREADABLE_VERSION' ? 'UNREADABLE_VERSION' : 'DECODE_FAILED';
        skipped.push({ view: 'replay', record, code, reason: decoded.left.message, error: decoded.left });
        continue;
      }
      const event = decoded.right as Envelope;
      if (types && !types.includes(event.type)) continue;
      if (skipped.length > 0) {
        // Reported before later events reach the handler, in log order.
        counters.skipped += skipped.length;
        await reporter.report(skipped.splice(0));
      }
      const result = (handler as ReplayHandler<Envelope>)(event, record.position);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') await result;
      counters.events++;
      if (slice.due()) await slice.pause();
    }
    counters.skipped += skipped.length;
    await reporter.report(skipped);
  }
}

function signalOf(options: { readonly signal?: AbortSignal }): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** The view's own fold, for a replay into it: after its checkpoint, committed as `runView` commits (without leases). */
async function viewSink(
  view: View,
  store: ViewStore,
  options: ReplayToViewOptions<AnyView>,
  reporter: SkipReporter,
  counters: { records: number; events: number; skipped: number },
) {
  const stopping = options.signal ?? new AbortController().signal;
  const retries = new Retries(defaultBackoff, stopping);
  const committer = new Committer(store, view.table, retries, view.idWindow > 0);
  await committer.createTable({ indexes: view.indexNames, idWindow: view.idWindow });
  const checkpoint: Record<string, string> = { ...(await committer.positions()) };
  const commitSize = options.commitSize ?? DEFAULT_REPLAY_COMMIT_SIZE;
  const commit = async (unit: FoldUnit) => {
    if (unit.empty) return;
    const skipped = unit.skippedInOrder();
    await reporter.report(skipped);
    await committer.commit(unit, {});
    Object.assign(checkpoint, unit.positions());
    counters.events += unit.applied;
    counters.skipped += skipped.length;
  };
  const folder = new Folder(view, committer, {
    onUnreadable: options.onUnreadable ?? 'stop',
    rememberIds: view.idWindow > 0,
    maxRows: commitSize,
    slice: timeSlice(),
    commitFull: commit,
  });
  let unit = folder.newUnit();
  return {
    /** Into a view: read right after the checkpoint, once sure `from` skips nothing after it. */
    from: (from: ReplayFrom | undefined, limits: PositionMap | undefined) =>
      refuseSkippingFrom(view, options.log, from, checkpoint, limits),
    pending: () => unit.applied,
    async add(batch: ReadBatch): Promise<void> {
      // A batch that starts at or before the checkpoint (a log that yields a record twice) is trimmed.
      const done = checkpoint[batch.partition];
      const records = done === undefined ? batch.records : batch.records.filter((r) => !reached(done, r.position.offset));
      const folded = await folder.add(unit, { ...batch, records });
      unit = folded.unit;
      if (folded.unreadable) {
        await commit(unit);
        unit = folder.newUnit();
        const { error, partition } = folded.unreadable;
        throw new RiverlogError(
          error.code,
          `${error.message} replay into view ${view.table} stopped before it in partition ${partition} (folded up to there); deploy the catalog that reads it, or replay with onUnreadable: 'dead-letter'.`,
          { cause: error },
        );
      }
      if (unit.records >= commitSize || batch.ended) {
        await commit(unit);
        unit = folder.newUnit();
      }
    },
    async finish(): Promise<void> {
      await commit(unit);
      unit = folder.newUnit();
    },
  };
}

/** The records of a batch within a bound offset (included) and a time. */
function withinBounds(batch: ReadBatch, bound: string | undefined, untilTime: number | undefined): readonly LogRecord[] {
  const records = batch.records;
  const last = records[records.length - 1];
  if (!last) return records;
  const endsPast = bound !== undefined && compareOffsets(last.position.offset, bound) > 0;
  if (!endsPast && untilTime === undefined) return records;
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as LogRecord;
    if (
      (endsPast && compareOffsets(record.position.offset, bound as string) > 0) ||
      (untilTime !== undefined && timeOf(record) > untilTime)
    ) {
      return records.slice(0, i);
    }
  }
  return records;
}

/** The batch reached the partition's bound (or the partition ended). */
function reachedBound(batch: ReadBatch, bound: string | undefined): boolean {
  if (batch.ended) return true;
  const last = batch.records[batch.records.length - 1];
  return bound !== undefined && last !== undefined && compareOffsets(last.position.offset, bound) >= 0;
}

/** Filters would fold some events and move the view's checkpoint past the others. */
function refuseFilters(view: View, options: { readonly types?: unknown; readonly subjects?: unknown }): void {
  for (const filter of ['subjects', 'types'] as const) {
    if (options[filter] === undefined) continue;
    throw new RiverlogError(
      'INVALID_OPTION',
      `replay into view ${view.table}: \`${filter}\` would fold only some events, while the view's checkpoint moves past all it reads, ` +
        'so the others would never be folded (a view is a fold of the whole log). To look at some events only, replay into a handler; ' +
        'to fold the view differently, change it, raise its version and build it with rebuildView.',
    );
  }
}

/**
 * Into a view: the start of the read, right after the checkpoint, once it is
 * sure that `from` would not skip anything after the checkpoint (up to `to`).
 * Offsets need not be contiguous, so a position is accepted only at or before
 * the checkpoint; a time or `'latest'` only where nothing is left to fold.
 */
async function refuseSkippingFrom(
  view: View,
  log: EventLog,
  from: ReplayFrom | undefined,
  checkpoint: PositionMap,
  limits: PositionMap | undefined,
): Promise<ReadFrom> {
  const start = resolveFrom(from);
  const resume: ReadFrom = { after: { ...checkpoint } };
  if (start === 'earliest') return resume;
  const partitions = limits ? Object.keys(limits) : (await log.partitions()).map((partition) => partition.id);
  let ends: PositionMap | undefined;
  for (const partition of partitions) {
    const done = checkpoint[partition];
    if (typeof start !== 'string' && !('time' in start)) {
      const offset = ('after' in start ? start.after : start.at)[partition];
      if (offset === undefined) continue; // partitions not named start at the earliest record
      if (done !== undefined && reached(done, offset)) continue;
    }
    // Skipping is harmless only where nothing is left to fold (up to `to`).
    ends ??= await readEnds(log, partitions, checkpoint, { types: view.readTypes });
    const end = limits?.[partition] ?? ends[partition];
    if (end === undefined || (done !== undefined && reached(done, end))) continue;
    throw new RiverlogError(
      'INVALID_OPTION',
      `replay into view ${view.table}: \`from\` ${JSON.stringify(start)} would skip events after its checkpoint in partition ${partition} ` +
        `(${done === undefined ? 'nothing folded yet' : `checkpoint ${done}`}), and the checkpoint would move past them unfolded. ` +
        'Into a view, replay always resumes after its checkpoint: leave `from` out. To read from there, replay into a handler; ' +
        'to fold a fresh version from the start of the log, use rebuildView.',
    );
  }
  return resume;
}

function resolveFrom(from: ReplayFrom | undefined): ReadFrom {
  if (from === undefined) return 'earliest';
  if (from instanceof Date) return { time: from };
  if (typeof from === 'string' || 'after' in from || 'at' in from || 'time' in from) return from as ReadFrom;
  return { at: from as PositionMap };
}

function resolveEnd(to: ReplayTo | undefined): { limits: PositionMap | undefined; untilTime: number | undefined } {
  let untilTime: number | undefined;
  if (to instanceof Date) untilTime = to.getTime();
  else if (to !== undefined && 'time' in to && typeof to.time !== 'string') untilTime = new Date(to.time).getTime();
  else if (to !== undefined && 'time' in to) untilTime = Date.parse(to.time as string);
  else if (to !== undefined) return { limits: to as PositionMap, untilTime: undefined };
  if (untilTime !== undefined && Number.isNaN(untilTime)) {
    throw new RiverlogError('INVALID_OPTION', `replay: to.time ${JSON.stringify((to as { time: unknown }).time)} is not a valid time.`);
  }
  return { limits: undefined, untilTime };
}

function timeOf(record: LogRecord): number {
  const time = (record.event as { time?: unknown } | undefined)?.time;
  return typeof time === 'string' ? Date.parse(time) : Number.NaN;
}

function keepSubject(record: LogRecord, subjects: ReadonlySet<string>): boolean {
  const subject = (record.event as { subject?: unknown } | undefined)?.subject;
  // A record without a readable subject is kept, so that its decode failure is reported.
  return typeof subject !== 'string' || subjects.has(subject);
}
