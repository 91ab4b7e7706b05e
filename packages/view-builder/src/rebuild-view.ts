import type { PositionMap } from '@riverlog/core';
import { backoffPolicy, ConflictError, RiverlogError, retryForever } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';
import type { AnyView, View } from './define-view.js';
import { RUN_OPTIONS, type RunViewOptions } from './options.js';
import { isFatal } from './retries.js';
import { runView } from './run-view.js';
import { movesForward, switchAliasIfNewer, versionOf } from './versions.js';

export interface RebuildViewOptions extends Omit<RunViewOptions, 'switchAlias'> {
  /** Drop the table the alias named before, once reads have switched. Default false: stop its builders first. */
  readonly dropPrevious?: boolean;
}

export interface RebuildResult {
  /** The table built, now the alias's target. */
  readonly table: string;
  /** The table the alias named before, if any. */
  readonly previous: string | undefined;
  readonly dropped: boolean;
  /** The new table's checkpoint when reads switched. */
  readonly positions: PositionMap;
}

/**
 * Builds this version of a view from the start of the log, beside the
 * version reads use now, and once it has caught up with the log switches
 * reads to it in one step (the alias). Interrupted, it resumes where it
 * stopped. Afterwards run the new version with `runView` to keep it current.
 *
 * Reads only ever move forward: it refuses (`INVALID_OPTION`) when the alias
 * names a newer version (or a table that is not a version of this view), and
 * rejects with `ConflictError` (`CONFLICT`) when a newer version took over
 * reads while it was building — the table built is kept, nothing is dropped.
 * To roll back to an older version, point the alias yourself:
 * `store.setAlias(name, table, await store.alias(name))`.
 *
 * @example
 * const productsV2 = defineView({ ...productsSpec, version: 2 });
 * const result = await rebuildView(productsV2, { log, store, dropPrevious: true });
 * console.log(`reads now go to ${result.table}; ${result.previous} dropped`);
 */
export async function rebuildView(view: AnyView, options: RebuildViewOptions): Promise<RebuildResult> {
  const v = view as View;
  checkOptions(`rebuildView(${v.table})`, options, [...RUN_OPTIONS.filter((name) => name !== 'switchAlias'), 'dropPrevious']);
  const { dropPrevious, ...runOptions } = options;
  const { store } = options;
  const previous = await store.alias(v.name);
  if (previous === v.table) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `rebuildView: ${v.table} is already the version reads use. Raise the view's version to rebuild it beside this one.`,
    );
  }
  if (previous !== undefined && !movesForward(previous, v)) {
    throw new RiverlogError('INVALID_OPTION', `rebuildView(${v.table}): reads of ${v.name} go to ${notOlder(v, previous)}`);
  }
  const runner = runView(v, { ...runOptions, switchAlias: false });
  let positions: PositionMap;
  try {
    positions = await runner.caughtUp();
  } finally {
    await runner.stop();
  }
  await runner.done;
  const reads = await retryForever(() => switchAliasIfNewer(store, v), {
    policy: backoffPolicy(options.retry),
    ...(options.signal ? { signal: options.signal } : {}),
    retryable: (error) => !isFatal(error),
  });
  if (reads !== v.table) {
    throw new ConflictError(
      `rebuildView(${v.table}): built and caught up (kept; nothing dropped), but meanwhile reads of ${v.name} moved to ${notOlder(v, reads)}`,
    );
  }
  const dropped = dropPrevious === true && previous !== undefined;
  if (dropped) await store.drop(previous);
  return { table: v.table, previous, dropped, positions };
}

function notOlder(view: View, current: string): string {
  const what = versionOf(current, view.name) === undefined ? `a table that is not a version of ${view.name}` : 'a newer version';
  return (
    `${current}, ${what}; rebuildView only switches reads from an older version to a newer one. ` +
    `To switch them to ${view.table} anyway (a rollback), build it with runView(view, { switchAlias: false }), ` +
    `then point the alias yourself: store.setAlias(${JSON.stringify(view.name)}, ${JSON.stringify(view.table)}, ${JSON.stringify(current)}).`
  );
}
