import type { Envelope, LogRecord, Position, ViewChange } from '@riverlog/core';
import { compareOffsets, decodeRecord, RiverlogError } from '@riverlog/core';
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
 * The records of a batch (one partition, in offset order) after `offset`.
 * Reads start after the checkpoint, so a batch is nearly always all new: one
 * comparison with its first record says so; only a batch that starts at or
 * before `offset` is searched.
 */
export function recordsAfter(batch: readonly LogRecord[], offset: string | undefined): readonly LogRecord[] {
  const first = batch[0];
  if (offset === undefined || first === undefined || compareOffsets(first.position.offset, offset) > 0) return batch;
  const start = batch.findIndex((record) => compareOffsets(record.position.offset, offset) > 0);
  return start < 0 ? [] : batch.slice(start);
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
    const decoded = decodeRecord(catalog, record);
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
 * One commit in the making: batches folded in memory, in order, into the
 * rows they touch — several events of one row end as one change — with the
 * checkpoint they reach per partition. Rows are loaded once per unit, first
 * for a whole batch, then on demand when a handler reads another row.
 */
export class FoldUnit {
  /** Records taken in (decoded or not). */
  records = 0;
  /** Events applied (skipped ones not counted). */
  applied = 0;
  readonly skipped: SkippedRecord[] = [];
  /** Per partition: the checkpoint before this unit (undefined: none yet) and the last offset folded. */
  readonly from = new Map<string, string | undefined>();
  readonly to = new Map<string, string>();
  private readonly rows = new Map<string, Slot>();
  private readonly stored = new Set<string>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly view: View,
    private readonly load: LoadRows,
  ) {}

  /** Where this unit has got to in a partition, else `checkpoint`. */
  reached(partition: string, checkpoint: string | undefined): string | undefined {
    return this.to.get(partition) ?? checkpoint;
  }

  /** Folds one batch (records of one partition, in order, after `checkpoint`). */
  async add(records: readonly LogRecord[], checkpoint: string | undefined): Promise<void> {
    const last = records[records.length - 1];
    if (!last) return;
    const partition = last.position.partition;
    if (!this.from.has(partition)) this.from.set(partition, checkpoint);
    const decoded = decodeForView(this.view, records);
    await this.fold(decoded.events);
    this.skipped.push(...decoded.skipped);
    this.to.set(partition, last.position.offset);
    this.records += records.length;
  }

  /** The changes to write: one per row that differs from the store. */
  changes(): ViewChange[] {
    const { fold } = this.view;
    const changes: ViewChange[] = [];
    for (const key of this.dirty) {
      const slot = this.rows.get(key);
      if (slot === ABSENT) {
        if (this.stored.has(key)) changes.push({ key, delete: true });
        continue;
      }
      let indexes: ReturnType<typeof fold.indexesOf>;
      try {
        indexes = fold.indexesOf(slot);
      } catch (error) {
        throw new ViewIndexError(this.view.table, key, error);
      }
      changes.push(indexes === undefined ? { key, value: slot } : { key, value: slot, indexes });
    }
    return changes;
  }

  /** The skipped records in log order per partition. */
  skippedInOrder(): SkippedRecord[] {
    return [...this.skipped].sort((a, b) => {
      const [p, q] = [a.record.position, b.record.position];
      return p.partition === q.partition ? compareOffsets(p.offset, q.offset) : p.partition < q.partition ? -1 : 1;
    });
  }

  private async loadKeys(keys: Iterable<string>): Promise<void> {
    const wanted: string[] = [];
    for (const key of keys) if (!this.rows.has(key)) wanted.push(key);
    if (wanted.length === 0) return;
    const found = await this.load(wanted);
    for (const key of wanted) {
      if (found.has(key)) {
        this.rows.set(key, found.get(key));
        this.stored.add(key);
      } else this.rows.set(key, ABSENT);
    }
  }

  private async fold(events: readonly Applicable[]): Promise<void> {
    const keys = new Set<string>();
    for (const item of events) for (const key of item.keys) keys.add(key);
    await this.loadKeys(keys);
    for (let i = 0; i < events.length; ) {
      const item = events[i] as Applicable;
      try {
        this.applyEvent(item);
        this.applied++;
        i++;
      } catch (error) {
        if (error instanceof MissingRow) {
          await this.loadKeys([error.key]);
          continue; // the same event again, now that the row is loaded
        }
        this.skipped.push({
          view: this.view.table,
          record: item.record,
          code: 'APPLY_FAILED',
          reason: `View ${this.view.table}: apply[${JSON.stringify(item.event.type)}] threw for event ${item.event.id} at ${where(item.record.position)}: ${messageOf(error)}`,
          error,
        });
        i++;
      }
    }
  }

  private applyEvent(item: Applicable): void {
    const { fold } = this.view;
    const rows = this.rows;
    const handler = fold.apply(item.event.type) as Apply<unknown, Envelope>;
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
      const result = handler(state, item.event, context);
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
      this.dirty.add(key);
    }
  }
}
