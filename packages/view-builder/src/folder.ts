import type { DecodeError, ReadBatch } from '@riverlog/core';
import type { TimeSlice } from '@riverlog/core/backend';
import type { Committer } from './committer.js';
import { type Classified, classify, type OnUnreadable } from './decode.js';
import type { View } from './define-view.js';
import { type FoldEvent, FoldUnit, MissingRows } from './fold.js';
import type { SkippedRecord } from './skips.js';

/** A partition stopped before an event this catalog cannot read yet. */
export interface Unreadable {
  readonly partition: string;
  readonly error: DecodeError;
  readonly skipped: SkippedRecord;
}

export interface FoldedBatch {
  /** The unit the batch went into (a new one when the previous was committed because it was full). */
  readonly unit: FoldUnit;
  /** Set when the batch holds an unreadable event and `onUnreadable` is `'stop'`: the unit stops before it. */
  readonly unreadable?: Unreadable;
}

export interface FolderOptions {
  readonly onUnreadable: OnUnreadable;
  /** Fold each event id once, checking the store's id window. */
  readonly rememberIds: boolean;
  /** Most row writes a unit takes before it is committed: `commitSize`, within the store's `maxRowsPerCommit`. */
  readonly maxRows: number;
  /** Pauses long folds so that timers (lease renewal) run on time. */
  readonly slice: TimeSlice;
  /** Commits a unit that is full (`maxRows`). */
  readonly commitFull: (unit: FoldUnit) => Promise<void>;
}

/**
 * Takes a read batch into a {@link FoldUnit}: classifies its records (one
 * decode path), asks the store once for the rows the batch touches and the
 * ids it already folded, then folds event by event — leaving out
 * duplicates, loading rows a handler reads on demand, committing the unit
 * and going on in a new one when the store's commit limit is reached, and
 * pausing through the time slice so the event loop stays responsive.
 *
 * @example
 * const folder = new Folder(view, committer, { onUnreadable: 'stop', rememberIds: true, maxRows: 1_000, slice: timeSlice(), commitFull });
 * let unit = folder.newUnit();
 * ({ unit } = await folder.add(unit, batch, signal));
 */
export class Folder {
  constructor(
    private readonly view: View,
    private readonly committer: Committer,
    private readonly options: FolderOptions,
  ) {}

  newUnit(): FoldUnit {
    return new FoldUnit(this.view, Math.min(this.options.maxRows, this.committer.maxRows), this.options.rememberIds);
  }

  async add(first: FoldUnit, batch: ReadBatch, signal?: AbortSignal): Promise<FoldedBatch> {
    const { slice, onUnreadable, rememberIds } = this.options;
    let unit = first;
    const records = batch.records;
    const classified: Classified[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      classified[i] = classify(this.view, records[i] as never, onUnreadable);
      if (slice.due()) await slice.pause();
    }
    const seen = rememberIds ? await this.committer.seen(this.idsToCheck(unit, classified), signal) : new Set<string>();
    await this.preload(unit, classified, 0, signal);

    for (let i = 0; i < records.length; i++) {
      const item = classified[i] as Classified;
      if (item.kind === 'pass') unit.pass(records[i] as never);
      else if (item.kind === 'skip') unit.skip(item.skipped);
      else if (item.kind === 'unreadable')
        return { unit, unreadable: { partition: batch.partition, error: item.error, skipped: item.skipped } };
      else if (seen.has(item.event.id)) unit.duplicate(records[i] as never);
      else {
        const event: FoldEvent = { record: records[i] as never, event: item.event, keys: item.keys };
        for (;;) {
          try {
            if (unit.fold(event)) break;
          } catch (error) {
            if (!(error instanceof MissingRows)) throw error;
            unit.load(error.keys, await this.committer.rows(error.keys, signal));
            continue;
          }
          // Full: commit what is folded, then go on in a new unit (the ids committed count as seen).
          for (const id of unit.ids) seen.add(id);
          await this.options.commitFull(unit);
          unit = this.newUnit();
          await this.preload(unit, classified, i, signal);
        }
      }
      if (slice.due()) await slice.pause();
    }
    if (batch.ended) unit.end(batch.partition);
    return { unit };
  }

  /** The ids of the batch's events the unit has not folded itself. */
  private idsToCheck(unit: FoldUnit, classified: readonly Classified[]): string[] {
    const ids: string[] = [];
    for (const item of classified) if (item.kind === 'event' && !unit.ids.has(item.event.id)) ids.push(item.event.id);
    return ids;
  }

  /** Loads, in one read, the rows the events from `start` on touch that the unit has not loaded. */
  private async preload(unit: FoldUnit, classified: readonly Classified[], start: number, signal?: AbortSignal): Promise<void> {
    const keys = new Set<string>();
    for (let i = start; i < classified.length; i++) {
      const item = classified[i] as Classified;
      if (item.kind === 'event') for (const key of item.keys) keys.add(key);
    }
    const missing = unit.missing(keys);
    if (missing.length > 0) unit.load(missing, await this.committer.rows(missing, signal));
  }
}
