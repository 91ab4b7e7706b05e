import type { Fence, PositionMap, RowWrite, StoredRow, ViewStore } from '@riverlog/core';
import type { FoldUnit } from './fold.js';
import type { Retries } from './retries.js';

/**
 * The one part of the view builder that talks to the view store: it reads
 * what the fold needs (checkpoint, stored rows, ids already folded) and
 * writes commits — cut to the store's `maxRowsPerCommit`, under the fence
 * of the partitions they come from — retrying transient failures through
 * {@link Retries}. A `ConflictError` (a row moved, an id folded meanwhile)
 * and a `LeaseLostError` reach the caller, which folds again or drops the
 * partition; fatal errors (`ROW_TOO_LARGE`, a closed store, …) stop the view.
 *
 * @example
 * const committer = new Committer(store, view.table, retries);
 * await committer.createTable({ indexes: view.indexNames, idWindow: view.idWindow });
 * await committer.claim('2', 7); // right after taking partition 2's lease at epoch 7
 * await committer.commit(unit, { '2': 7 });
 */
export class Committer {
  constructor(
    readonly store: ViewStore,
    readonly table: string,
    private readonly retries: Retries,
    /** Event ids are remembered (the view's id window is not 0). */
    private readonly rememberIds = true,
  ) {}

  /** Most row writes per commit. */
  get maxRows(): number {
    return Math.max(1, this.store.limits.maxRowsPerCommit);
  }

  createTable(spec: { readonly indexes: readonly string[]; readonly idWindow: number }): Promise<void> {
    return this.retries.run('createTable', () => this.store.createTable(this.table, spec));
  }

  /** The stored checkpoint. */
  positions(signal?: AbortSignal): Promise<PositionMap> {
    return this.retries.run('positions', () => this.store.positions(this.table), signal);
  }

  /** The stored rows of `keys` (tombstones included). */
  rows(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, StoredRow>> {
    if (keys.length === 0) return Promise.resolve(new Map());
    return this.retries.run('rows', () => this.store.rows(this.table, keys), signal);
  }

  /** Those of `ids` the view has folded within its window. */
  seen(ids: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    if (!this.rememberIds || ids.length === 0) return Promise.resolve(new Set());
    return this.retries.run('seen', () => this.store.seen(this.table, ids), signal);
  }

  /**
   * Claims a partition just taken under lease `epoch`: a commit with the
   * fence and nothing else, so that the previous owner's late commits are
   * refused from now on. Rejects with `LeaseLostError` when someone took it
   * after us.
   */
  claim(partition: string, epoch: number, signal?: AbortSignal): Promise<void> {
    return this.retries.run(
      'claim',
      () => this.store.commit(this.table, { rows: [], ids: [], positions: {}, fence: { [partition]: epoch } }),
      signal,
    );
  }

  /**
   * Writes a unit: its guarded rows, the ids it folded and the checkpoint it
   * reaches, under `fence`. A unit with more row writes than the store takes
   * (one event that changes that many rows) goes in several commits, the ids
   * and checkpoint with the last: a crash in between leaves rows whose
   * `applied` marks make the redo skip them.
   */
  async commit(unit: FoldUnit, fence: Fence, signal?: AbortSignal): Promise<number> {
    const writes = unit.writes();
    const max = this.maxRows;
    const hasFence = Object.keys(fence).length > 0;
    const chunks: RowWrite[][] = [];
    for (let i = 0; i < writes.length; i += max) chunks.push(writes.slice(i, i + max));
    if (chunks.length === 0) chunks.push([]);
    for (let i = 0; i < chunks.length; i++) {
      const last = i === chunks.length - 1;
      const commit = {
        rows: chunks[i] as RowWrite[],
        ids: last && this.rememberIds ? [...unit.ids] : [],
        positions: last ? unit.positions() : {},
        ...(hasFence ? { fence } : {}),
      };
      await this.retries.run('commit', () => this.store.commit(this.table, commit), signal);
    }
    return writes.length;
  }
}
