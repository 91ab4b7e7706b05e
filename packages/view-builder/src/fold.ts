import type { Envelope, LogRecord, Position, ViewChange } from '@riverlog/core';
import { RiverlogError } from '@riverlog/core';
import { type Apply, type ApplyContext, del, RowChanges, type View } from './define-view.js';
import type { SkippedRecord } from './skips.js';

/** A decoded event of the view with the rows it touches. */
export interface Applicable {
  readonly record: LogRecord;
  readonly event: Envelope;
  readonly keys: readonly string[];
}

export interface DecodedBatch {
  readonly events: Applicable[];
  readonly skipped: SkippedRecord[];
}

/** Loads stored rows by key; absent keys are missing from the map. */
export type LoadRows = (keys: readonly string[]) => Promise<Map<string, unknown>>;

export interface FoldOutcome {
  /** One change per row that ended the batch different from how it started. */
  readonly changes: ViewChange[];
  readonly skipped: SkippedRecord[];
  /** Events applied (skipped ones not counted). */
  readonly applied: number;
}

/** An index function of the view threw or returned something that is not an index key: a bug in the view, not in the event. */
export class ViewIndexError extends RiverlogError {
  constructor(view: string, key: string, cause: unknown) {
    super(
      'VIEW_INDEX_FAILED',
      `View ${view}: computing the indexes of row ${JSON.stringify(key)} failed: ${messageOf(cause)}. Fix the view's indexes.`,
      {
        cause,
      },
    );
  }
}

const ABSENT: unique symbol = Symbol('absent');
type Slot = unknown | typeof ABSENT;

class MissingRow {
  constructor(readonly key: string) {}
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function where(position: Position): string {
  return `partition ${position.partition}, offset ${position.offset}`;
}

/**
 * Decodes the records a view folds: types the view does not handle are left
 * out (not an error); records that are not valid events, or whose `key`
 * throws, are returned as skipped with the reason.
 */
export function decodeForView(view: View, records: readonly LogRecord[]): DecodedBatch {
  const events: Applicable[] = [];
  const skipped: SkippedRecord[] = [];
  const { fold, catalog } = view;
  for (const record of records) {
    const stored = record.event as { type?: unknown } | null | undefined;
    const type = stored !== null && typeof stored === 'object' ? stored.type : undefined;
    if (typeof type === 'string' && !fold.handles(type)) continue;
    if (stored === undefined && record.error !== undefined) {
      skipped.push({
        view: view.table,
        record,
        code: 'DECODE_FAILED',
        reason: `Cannot decode record at ${where(record.position)}: ${record.error}`,
      });
      continue;
    }
    const decoded = catalog.decode(stored, record.position);
    if (decoded._tag === 'Left') {
      skipped.push({ view: view.table, record, code: 'DECODE_FAILED', reason: decoded.left.message, error: decoded.left });
      continue;
    }
    const event = decoded.right as Envelope;
    let keys: readonly string[];
    try {
      keys = fold.keysOf(event);
    } catch (error) {
      skipped.push({
        view: view.table,
        record,
        code: 'APPLY_FAILED',
        reason: `View ${view.table}: key threw for ${JSON.stringify(event.type)} event ${event.id} at ${where(record.position)}: ${messageOf(error)}`,
        error,
      });
      continue;
    }
    if (keys.length > 0) events.push({ record, event, keys });
  }
  return { events, skipped };
}

/**
 * Folds decoded events in order into the rows they touch, loading rows
 * first (and on demand when a handler reads another row), and returns one
 * change per row that changed. A handler that throws skips its event
 * whole: none of that event's changes are kept.
 */
export async function foldEvents(view: View, events: readonly Applicable[], load: LoadRows): Promise<FoldOutcome> {
  const { fold } = view;
  const rows = new Map<string, Slot>();
  const stored = new Set<string>();
  const dirty = new Set<string>();
  const skipped: SkippedRecord[] = [];

  async function loadKeys(keys: Iterable<string>): Promise<void> {
    const wanted = [...keys].filter((key) => !rows.has(key));
    if (wanted.length === 0) return;
    const found = await load(wanted);
    for (const key of wanted) {
      if (found.has(key)) {
        rows.set(key, found.get(key));
        stored.add(key);
      } else rows.set(key, ABSENT);
    }
  }

  const firstKeys = new Set<string>();
  for (const item of events) for (const key of item.keys) firstKeys.add(key);
  await loadKeys(firstKeys);

  let applied = 0;
  for (let i = 0; i < events.length; ) {
    const item = events[i] as Applicable;
    try {
      applyEvent(item);
      applied++;
      i++;
    } catch (error) {
      if (error instanceof MissingRow) {
        await loadKeys([error.key]);
        continue; // the same event again, now that the row is loaded
      }
      skipped.push({
        view: view.table,
        record: item.record,
        code: 'APPLY_FAILED',
        reason: `View ${view.table}: apply[${JSON.stringify(item.event.type)}] threw for event ${item.event.id} at ${where(item.record.position)}: ${messageOf(error)}`,
        error,
      });
      i++;
    }
  }

  function applyEvent(item: Applicable): void {
    const handler = fold.apply(item.event.type);
    // One event's changes land together or not at all: they go to a scratch map first.
    const scratch = new Map<string, Slot>();
    const read = (key: string): Slot => {
      if (scratch.has(key)) return scratch.get(key);
      if (!rows.has(key)) throw new MissingRow(key);
      return rows.get(key);
    };
    for (const key of item.keys) {
      const current = read(key);
      const exists = current !== ABSENT;
      const state = exists ? current : fold.initial(key);
      const context: ApplyContext<unknown> = {
        key,
        exists,
        get: (other) => {
          const slot = read(other);
          return slot === ABSENT ? undefined : slot;
        },
      };
      const result = (handler as Apply<unknown, Envelope>)(state, item.event, context);
      if (result instanceof RowChanges) {
        for (const [changed, value] of result.rows) {
          if (value === undefined)
            throw new TypeError(`changes({...}) gave undefined for row ${JSON.stringify(changed)}; give a state or del`);
          scratch.set(changed, value === del ? ABSENT : value);
        }
      } else if (result === del) scratch.set(key, ABSENT);
      else if (result === undefined) {
        throw new TypeError(
          `returned undefined for row ${JSON.stringify(key)}; return the new state, the same state, del or changes({...})`,
        );
      } else if (result !== state) scratch.set(key, result);
    }
    for (const [key, slot] of scratch) {
      rows.set(key, slot);
      dirty.add(key);
    }
  }

  const changes: ViewChange[] = [];
  for (const key of dirty) {
    const slot = rows.get(key);
    if (slot === ABSENT) {
      if (stored.has(key)) changes.push({ key, delete: true });
      continue;
    }
    let indexes: ReturnType<typeof fold.indexesOf>;
    try {
      indexes = fold.indexesOf(slot);
    } catch (error) {
      throw new ViewIndexError(view.table, key, error);
    }
    changes.push(indexes === undefined ? { key, value: slot } : { key, value: slot, indexes });
  }
  return { changes, skipped, applied };
}
