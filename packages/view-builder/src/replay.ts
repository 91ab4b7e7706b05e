import type { Envelope, EventLog, EventTypeOf, LogRecord, Position, PositionMap, ReadFrom, ViewStore } from '@riverlog/core';
import { compareOffsets, decodeRecord, RiverlogError } from '@riverlog/core';
import type { AnyCatalog, AnyView, EventOfType, View } from './define-view.js';
import { FoldUnit, recordsAfter } from './fold.js';
import { reportSkips, type SkippedRecord, type SkipReporting } from './skips.js';

/** Where a replay starts: `'earliest'`, a `ReadFrom`, a time (`Date`), or a position map (each offset included). */
export type ReplayFrom = ReadFrom | Date | PositionMap;
/** Where a replay ends: a position map (each offset included; partitions not named are not read) or a time (events whose `time` is after it are not replayed). Default: the end of the log when the replay starts. */
export type ReplayTo = PositionMap | Date | { readonly time: Date | string | number };

/** How far a replay got. */
export interface ReplayProgress {
  /** Records read (after the `to` bound). */
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
  /** Default: the end of the log when the replay starts. */
  readonly to?: ReplayTo;
  /** Largest batch read at once. Default 1,000. */
  readonly batchSize?: number;
  /** Into a view: most records folded into one commit. Default 10,000. */
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
}

/**
 * Reads the log from the start, a position or a time, to a position, a time
 * or the current end, filtered by type and subject, into a handler; or
 * folds it into a view, resuming after the view's checkpoint (unfiltered: see
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
  const { log, into } = options;
  const view = typeof into === 'function' ? undefined : (into as View);
  const store = view ? (options as ReplayToViewOptions<AnyView>).store : undefined;
  if (view && !store) throw new RiverlogError('INVALID_OPTION', `replay into view ${view.table}: pass the store to fold it into.`);
  const catalog = options.catalog ?? view?.catalog;
  if (!catalog) throw new RiverlogError('INVALID_OPTION', 'replay: pass the catalog to decode events with.');
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RiverlogError('INVALID_OPTION', `replay: batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  }
  const name = view?.table ?? 'replay';
  if (view) refuseFilters(view, options);

  const heads = await log.heads();
  const { bounds, untilTime } = resolveEnd(options.to, heads);
  const types = view ? view.types : options.types;
  const subjects = !view && options.subjects ? new Set(options.subjects) : undefined;
  const checkpoint: Record<string, string> = view && store ? { ...(await store.positions(view.table)) } : {};
  // Into a view: read on from its checkpoint, having made sure `from` skips nothing after it.
  const from = view ? refuseSkippingFrom(view, options.from, checkpoint, bounds) : resolveFrom(options.from);
  const commitSize = options.commitSize ?? 10_000;
  let unit: FoldUnit | undefined;

  const positions: Record<string, string> = {};
  const counters = { records: 0, events: 0, skipped: 0 };
  const finished = new Set<string>();
  const progress = (): ReplayProgress => ({ ...counters, events: counters.events + (unit?.applied ?? 0), positions: { ...positions } });
  if (bounds.size === 0 || options.signal?.aborted) return progress();

  for await (const batch of log.read({
    from,
    partitions: [...bounds.keys()],
    ...(types ? { types } : {}),
    maxBatch: batchSize,
    ...(options.signal ? { signal: options.signal } : {}),
  })) {
    const partition = batch[0]?.position.partition;
    if (partition === undefined || finished.has(partition)) continue;
    const bound = bounds.get(partition) as string;
    let end = batch.length;
    // A batch is in offset order: only when its last record is past the bound is any record.
    const endsPast = compareOffsets((batch[batch.length - 1] as LogRecord).position.offset, bound) > 0;
    if (endsPast || untilTime !== undefined) {
      for (let i = 0; i < batch.length; i++) {
        const record = batch[i] as LogRecord;
        const offsetPast = endsPast && compareOffsets(record.position.offset, bound) > 0;
        if (offsetPast || (untilTime !== undefined && timeOf(record) > untilTime)) {
          end = i;
          finished.add(partition);
          break;
        }
      }
    }
    const inRange = end === batch.length ? batch : batch.slice(0, end);
    const lastRead = inRange[inRange.length - 1];
    if (lastRead && compareOffsets(lastRead.position.offset, bound) >= 0) finished.add(partition);
    const records = subjects ? inRange.filter((record) => keepSubject(record, subjects)) : inRange;
    counters.records += inRange.length;

    if (view && store) {
      unit ??= new FoldUnit(view, (keys) => store.getMany(view.table, keys));
      // The read starts after the checkpoint: this only guards against a log that yields a record twice.
      const fresh = recordsAfter(records, unit.reached(partition, checkpoint[partition]));
      if (fresh.length > 0) await unit.add(fresh, checkpoint[partition]);
      if (unit.records >= commitSize) await commitUnit();
    } else {
      const handler = into as ReplayHandler<Envelope>;
      const skipped: SkippedRecord[] = [];
      for (const record of records) {
        const decoded = decodeRecord(catalog, record);
        if (decoded._tag === 'Left') {
          skipped.push({ view: name, record, code: 'DECODE_FAILED', reason: decoded.left.message, error: decoded.left });
          continue;
        }
        const event = decoded.right as Envelope;
        if (types && !types.includes(event.type)) continue;
        if (skipped.length > 0) {
          // Reported before later events reach the handler, in log order.
          counters.skipped += skipped.length;
          await reportSkips(skipped.splice(0), options);
        }
        const result = handler(event, record.position);
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') await result;
        counters.events++;
      }
      counters.skipped += skipped.length;
      await reportSkips(skipped, options);
    }
    if (lastRead) positions[partition] = lastRead.position.offset;
    options.onProgress?.(progress());
    if (finished.size === bounds.size) break;
  }
  await commitUnit();
  return progress();

  async function commitUnit(): Promise<void> {
    if (!unit || !view || !store) return;
    const folded = unit;
    unit = undefined;
    if (folded.to.size === 0) return;
    const skipped = folded.skippedInOrder();
    await reportSkips(skipped, options);
    const expected: Record<string, string> = {};
    for (const [partition, offset] of folded.from) if (offset !== undefined) expected[partition] = offset;
    const to = Object.fromEntries(folded.to);
    await store.commit(view.table, { changes: folded.changes(), positions: to, expected });
    Object.assign(checkpoint, to);
    counters.events += folded.applied;
    counters.skipped += skipped.length;
  }
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
 * sure that `from` would not skip anything after the checkpoint (before `to`).
 * Offsets need not be contiguous, so a position is accepted only at or before
 * the checkpoint; a time or `'latest'` only where nothing is left to fold.
 */
function refuseSkippingFrom(
  view: View,
  from: ReplayFrom | undefined,
  checkpoint: PositionMap,
  bounds: ReadonlyMap<string, string>,
): ReadFrom {
  const start = resolveFrom(from);
  if (start === 'earliest') return { after: { ...checkpoint } };
  for (const [partition, bound] of bounds) {
    const done = checkpoint[partition];
    if (done !== undefined && compareOffsets(bound, done) <= 0) continue; // nothing left to fold here
    if (typeof start !== 'string' && !('time' in start)) {
      const offset = ('after' in start ? start.after : start.at)[partition];
      if (offset === undefined) continue; // partitions not named start at the earliest record
      if (done !== undefined && compareOffsets(offset, done) <= 0) continue;
    }
    throw new RiverlogError(
      'INVALID_OPTION',
      `replay into view ${view.table}: \`from\` ${JSON.stringify(start)} would skip events after its checkpoint in partition ${partition} ` +
        `(${done === undefined ? 'nothing folded yet' : `checkpoint ${done}`}), and the checkpoint would move past them unfolded. ` +
        'Into a view, replay always resumes after its checkpoint: leave `from` out. To read from there, replay into a handler; ' +
        'to fold a fresh version from the start of the log, use rebuildView.',
    );
  }
  return { after: { ...checkpoint } };
}

function resolveFrom(from: ReplayFrom | undefined): ReadFrom {
  if (from === undefined) return 'earliest';
  if (from instanceof Date) return { time: from };
  if (typeof from === 'string' || 'after' in from || 'at' in from || 'time' in from) return from as ReadFrom;
  return { at: from as PositionMap };
}

function resolveEnd(to: ReplayTo | undefined, heads: PositionMap): { bounds: Map<string, string>; untilTime: number | undefined } {
  const bounds = new Map<string, string>();
  let untilTime: number | undefined;
  let limits: PositionMap | undefined;
  if (to instanceof Date) untilTime = to.getTime();
  else if (to !== undefined && 'time' in to && typeof to.time !== 'string') untilTime = new Date(to.time).getTime();
  else if (to !== undefined && 'time' in to) untilTime = Date.parse(to.time as string);
  else if (to !== undefined) limits = to as PositionMap;
  if (untilTime !== undefined && Number.isNaN(untilTime)) {
    throw new RiverlogError('INVALID_OPTION', `replay: to.time ${JSON.stringify((to as { time: unknown }).time)} is not a valid time.`);
  }
  for (const [partition, head] of Object.entries(heads)) {
    if (!limits) bounds.set(partition, head);
    else {
      const limit = limits[partition];
      if (limit !== undefined) bounds.set(partition, compareOffsets(limit, head) < 0 ? limit : head);
    }
  }
  return { bounds, untilTime };
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
