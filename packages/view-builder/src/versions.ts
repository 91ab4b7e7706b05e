import type { ViewStore } from '@riverlog/core';
import type { View } from './define-view.js';

/** The version in a table name `${name}@${version}`, when the table belongs to the named view. */
export function versionOf(table: string | undefined, name: string): number | undefined {
  if (table === undefined || !table.startsWith(`${name}@`)) return undefined;
  const version = Number(table.slice(name.length + 1));
  return Number.isInteger(version) ? version : undefined;
}

/** True when `current`, the table the alias names, is an older version of the view. */
export function movesForward(current: string, view: View): boolean {
  const version = versionOf(current, view.name);
  return version !== undefined && version < view.version;
}

/**
 * Points the view's alias at this version when the alias is unset or names
 * an older version of it; a newer version already in place is left alone.
 * The switch is a compare-and-set on the alias as read: when another
 * process moved it meanwhile, it reads again and decides again. Returns the
 * table the alias names afterwards. Store failures reject (the caller retries).
 */
export async function switchAliasIfNewer(store: ViewStore, view: View): Promise<string> {
  for (;;) {
    const current = await store.alias(view.name);
    if (current !== undefined && current !== view.table && !movesForward(current, view)) return current;
    if (current === view.table) return current;
    if (await store.setAlias(view.name, view.table, current)) return view.table;
  }
}
