import type { PositionMap } from '@riverlog/core';
import { RiverlogError } from '@riverlog/core';
import type { AnyView, View } from './define-view.js';
import { type RunViewOptions, runView } from './run-view.js';

export interface RebuildViewOptions extends Omit<RunViewOptions, 'switchAlias' | 'leases' | 'owner' | 'leaseTtlMs' | 'exclusive'> {
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
 * @example
 * const productsV2 = defineView({ ...productsSpec, version: 2 });
 * const result = await rebuildView(productsV2, { log, store, dropPrevious: true });
 * console.log(`reads now go to ${result.table}; ${result.previous} dropped`);
 */
export async function rebuildView(view: AnyView, options: RebuildViewOptions): Promise<RebuildResult> {
  const v = view as View;
  const { store } = options;
  const previous = await store.alias(v.name);
  if (previous === v.table) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `rebuildView: ${v.table} is already the version reads use. Raise the view's version to rebuild it beside this one.`,
    );
  }
  const runner = runView(v, { ...options, switchAlias: false });
  let positions: PositionMap;
  try {
    positions = await runner.caughtUp();
  } finally {
    await runner.stop();
  }
  await runner.done;
  await store.setAlias(v.name, v.table);
  const dropped = options.dropPrevious === true && previous !== undefined;
  if (dropped) await store.drop(previous);
  return { table: v.table, previous, dropped, positions };
}
