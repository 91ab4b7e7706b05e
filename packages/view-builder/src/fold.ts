import type { Envelope, LogRecord, PositionMap, RowWrite, StoredRow } from '@riverlog/core';
import { compareOffsets, PARTITION_END, RiverlogError } from '@riverlog/core';
import { messageOf, where } from './decode.js';
import { type AnyView, type Apply, type ApplyContext, del, RowChanges, type View } from './define-view.js';
import type { SkippedRecord } from './skips.js';

/** An index function of the view threw or returned something that is not an index key: a bug in the view, not in the event. */
export class ViewIndexError extends RiverlogError {
  constructor(view: string, key: string, cause: unknown) {
    super(
      'VIEW_INDEX_FAILED',
      `View ${view}: computing the indexes of row ${JSON.stringify(key)} failed: ${messageOf(cause)}. Fix the view's indexes.`,
      { cause },
    );
  }
}

/** A decoded event of the view with the rows it touches. */
export interface FoldEvent {
  readonly record: LogRecord;
  readonly event: Envelope;
  readonly keys: readonly string[];
}

/** Thrown by {@link FoldUnit.fold} before it changes anything: load these rows, then fold the same event again. */
export class MissingRows {
  constructor(readonly keys: readonly string[]) {}
}

const ABSENT: unique symbol = Symbol('absent');
type Value = unknown | typeof ABSENT;
/** A handler gave back the state it was given. */
const UNCHANGED: unique symbol = Symbol('unchanged');

/** The rows of `changes({...})`, `del` as {@link ABSENT}; throws on an undefined row. */
function changesOf(result: RowChanges<unknown>): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [changed, value] of result.rows) {
    if (value === undefined) throw new TypeError(`changes({...}) gave undefined for row ${JSON.stringify(changed)}; give a state or del`);
    out.set(changed, value === del ? ABSENT : value);
  }
  return out;
}

/** A row as the unit holds it: its value now, what it has applied, and the version read from the store. */
interface RowState {
  value: Value;
  readonly applied: Record<string, string>;
  /** The stored version read (0: no stored row): the commit's `expectedVersion`. */
  readonly version: number;
}

/** True when the row has already applied the record at `offset` of `partition`. */
function hasApplied(row: RowState, partition: string, offset: string): boolean {
  const at = row.applied[partition];
  return at !== undefined && compareOffsets(at, offset) >= 0;
}

/**
 * One commit in the making, and the pure fold of a view: events folded in
 * memory, in order, into the rows they touch, each row remembering per
 * partition the last offset folded into it (`applied`) and the version it
 * was read at. An event a row has already applied (its offset is at or
 * before the row's mark) is skipped for that row, so folding a record again
 * — after a conflict, a crash, a partial commit — changes nothing. Several
 * events of one row end as one write. No I/O: rows come in through
 * {@link load}, and {@link fold} throws {@link MissingRows} when it needs
 * one that is not loaded.
 *
 * @example
 * const unit = new FoldUnit(view, store.limits.maxRowsPerCommit);
 * unit.load(keys, await store.rows(view.table, keys));
 * unit.fold({ record, event, keys: ['p1'] });
 * await store.commit(view.table, { rows: unit.writes(), ids: [...unit.ids], positions: unit.positions() });
 */
export class FoldUnit {
  /** Records taken in (folded, passed, skipped or duplicates). */
  records = 0;
  /** Events folded. */
  applied = 0;
  /** Events left out because their id was folded already. */
  duplicates = 0;
  readonly skipped: SkippedRecord[] = [];
  /** Ids of the events folded, for the view's duplicate window. */
  readonly ids = new Set<string>();
  /** Per partition: the last offset taken in ({@link PARTITION_END} once it ended). */
  readonly to = new Map<string, string>();
  private readonly rows = new Map<string, RowState>();
  private readonly dirty = new Set<string>();
  private readonly view: View;

  constructor(
    view: AnyView,
    /** Most rows one commit may write: an event that would go past it is not folded (`fold` returns false). */
    private readonly maxRows: number,
    /** Fold each event id once (the view's id window is not 0). */
    private readonly rememberIds = true,
  ) {
    this.view = view as View;
  }

  /** Rows changed so far: the writes of the commit. */
  get rowCount(): number {
    return this.dirty.size;
  }

  /** True when nothing was taken in. */
  get empty(): boolean {
    return this.to.size === 0;
  }

  /** Of `keys`, those not loaded yet. */
  missing(keys: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const key of keys) if (!this.rows.has(key)) out.add(key);
    return [...out];
  }

  /** Takes the stored rows of `keys` (a key missing from `found` has no row). Rows already loaded are kept. */
  load(keys: readonly string[], found: ReadonlyMap<string, StoredRow>): void {
    for (const key of keys) {
      if (this.rows.has(key)) continue;
      const row = found.get(key);
      this.rows.set(
        key,
        row
          ? { value: row.value === undefined ? ABSENT : row.value, applied: { ...row.applied }, version: row.version }
          : { value: ABSENT, applied: {}, version: 0 },
      );
    }
  }

  /** Takes in a record the view does not fold: the checkpoint moves past it. */
  pass(record: LogRecord): void {
    this.to.set(record.position.partition, record.position.offset);
    this.records++;
  }

  /** Takes in a record to report (dead letter), then passes it. */
  skip(skipped: SkippedRecord): void {
    this.skipped.push(skipped);
    this.pass(skipped.record);
  }

  /** Takes in an event whose id was folded already. */
  duplicate(record: LogRecord): void {
    this.duplicates++;
    this.pass(record);
  }

  /** The partition was read to its end: its checkpoint becomes {@link PARTITION_END}. */
  end(partition: string): void {
    this.to.set(partition, PARTITION_END);
  }

  /**
   * Folds one event into its rows, all of its changes or none (a handler
   * that throws skips the event, `APPLY_FAILED`). Returns false, changing
   * nothing, when its new rows would take the commit past `maxRows` (commit
   * this unit, then fold it into the next); a unit with no changes yet takes
   * any event. Throws {@link MissingRows} when a row it reads is not loaded.
   */
  fold(item: FoldEvent): boolean {
    const { record, event } = item;
    if (this.rememberIds && this.ids.has(event.id)) {
      this.duplicate(record);
      return true;
    }
    const { partition, offset } = record.position;
    for (const key of item.keys) if (!this.rows.has(key)) throw new MissingRows(this.missing(item.keys));
    let scratch: Map<string, Value> | undefined;
    try {
      if (item.keys.length === 1) {
        // Most events touch one row: no scratch map, unless the handler answers with changes({...}).
        const key = item.keys[0] as string;
        const row = this.rows.get(key) as RowState;
        if (!hasApplied(row, partition, offset)) {
          const result = this.applyOne(item, key, row);
          if (result instanceof Map) scratch = result;
          else if (result !== UNCHANGED) {
            if (!this.dirty.has(key) && this.dirty.size > 0 && this.dirty.size + 1 > this.maxRows) return false;
            row.value = result;
            row.applied[partition] = offset;
            this.dirty.add(key);
          }
        }
      } else scratch = this.apply(item);
    } catch (error) {
      if (error instanceof MissingRows) throw error;
      this.skip({
        view: this.view.table,
        record,
        code: 'APPLY_FAILED',
        reason: `View ${this.view.table}: apply[${JSON.stringify(event.type)}] threw for event ${event.id} at ${where(record.position)}: ${messageOf(error)}`,
        error,
      });
      return true;
    }
    if (scratch !== undefined && !this.land(scratch, partition, offset)) return false;
    if (this.rememberIds) this.ids.add(event.id);
    this.applied++;
    this.pass(record);
    return true;
  }

  /**
   * Lands an event's changes (from {@link apply}) in its rows, all or none:
   * false, changing nothing, when the rows it adds would take the commit past `maxRows`.
   */
  private land(scratch: Map<string, Value>, partition: string, offset: string): boolean {
    let fresh = 0;
    for (const key of scratch.keys()) {
      const row = this.rows.get(key);
      if (!row) throw new MissingRows(this.missing(scratch.keys()));
      if (!this.dirty.has(key) && !hasApplied(row, partition, offset)) fresh++;
    }
    if (fresh > 0 && this.dirty.size > 0 && this.dirty.size + fresh > this.maxRows) return false;
    for (const [key, value] of scratch) {
      const row = this.rows.get(key) as RowState;
      if (hasApplied(row, partition, offset)) continue;
      row.value = value;
      row.applied[partition] = offset;
      this.dirty.add(key);
    }
    return true;
  }

  /** The checkpoint this unit reaches, for the partitions it took records of. */
  positions(): PositionMap {
    return Object.fromEntries(this.to);
  }

  /** The guarded writes of the changed rows: each at the version read, with what it has applied. */
  writes(): RowWrite[] {
    const { fold } = this.view;
    const writes: RowWrite[] = [];
    for (const key of this.dirty) {
      const row = this.rows.get(key) as RowState;
      const applied = { ...row.applied };
      if (row.value === ABSENT) {
        // Deleted: a tombstone keeps what it applied. Created and deleted within the unit: nothing to write.
        if (row.version > 0) writes.push({ key, value: undefined, applied, expectedVersion: row.version });
        continue;
      }
      let indexes: ReturnType<typeof fold.indexesOf>;
      try {
        indexes = fold.indexesOf(row.value);
      } catch (error) {
        throw new ViewIndexError(this.view.table, key, error);
      }
      writes.push(
        indexes
          ? { key, value: row.value, applied, expectedVersion: row.version, indexes }
          : { key, value: row.value, applied, expectedVersion: row.version },
      );
    }
    return writes;
  }

  /** The skipped records in log order per partition. */
  skippedInOrder(): SkippedRecord[] {
    return [...this.skipped].sort((a, b) => {
      const [p, q] = [a.record.position, b.record.position];
      return p.partition === q.partition ? compareOffsets(p.offset, q.offset) : p.partition < q.partition ? -1 : 1;
    });
  }

  /** `get` of the {@link ApplyContext} of a one-row event: no change is pending, so it reads the rows as they stand. */
  private readonly getStored = (key: string): unknown => {
    const row = this.rows.get(key);
    if (!row) throw new MissingRows([key]);
    return row.value === ABSENT ? undefined : row.value;
  };

  /**
   * Runs the handler of an event that touches one row, which has not applied
   * it yet: the row's new value ({@link ABSENT} for `del`), {@link UNCHANGED},
   * or, when the handler answered with `changes({...})`, those changes as a
   * scratch map for {@link land}. Throws as the handler or its result does.
   */
  private applyOne(item: FoldEvent, key: string, row: RowState): Value | typeof UNCHANGED | Map<string, Value> {
    const { fold } = this.view;
    const handler = fold.apply(item.event.type) as Apply<unknown, unknown>;
    const exists = row.value !== ABSENT;
    const state = exists ? row.value : fold.initial(key);
    const result = handler(state, item.event, { key, exists, get: this.getStored });
    if (result instanceof RowChanges) return changesOf(result);
    if (result === del) return ABSENT;
    if (result === undefined) {
      throw new TypeError(`returned undefined for row ${JSON.stringify(key)}; return the new state, the same state, del or changes({...})`);
    }
    return result === state ? UNCHANGED : result;
  }

  /**
   * Runs the handler for each key that has not applied the event yet, into
   * a scratch map: an event's changes land together or not at all.
   */
  private apply(item: FoldEvent): Map<string, Value> {
    const { fold } = this.view;
    const { partition, offset } = item.record.position;
    const handler = fold.apply(item.event.type) as Apply<unknown, unknown>;
    const scratch = new Map<string, Value>();
    const read = (key: string): Value => {
      if (scratch.has(key)) return scratch.get(key);
      const row = this.rows.get(key);
      if (!row) throw new MissingRows([key]);
      return row.value;
    };
    for (const key of item.keys) {
      if (hasApplied(this.rows.get(key) as RowState, partition, offset)) continue;
      const current = read(key);
      const exists = current !== ABSENT;
      const state = exists ? current : fold.initial(key);
      const context: ApplyContext<unknown> = {
        key,
        exists,
        get: (other) => {
          const value = read(other);
          return value === ABSENT ? undefined : value;
        },
      };
      const result = handler(state, item.event, context);
      if (result instanceof RowChanges) {
        for (const [changed, value] of changesOf(result)) scratch.set(changed, value);
      } else if (result === del) scratch.set(key, ABSENT);
      else if (result === undefined) {
        throw new TypeError(
          `returned undefined for row ${JSON.stringify(key)}; return the new state, the same state, del or changes({...})`,
        );
      } else if (result !== state) scratch.set(key, result);
    }
    return scratch;
  }
}
