import type { ViewStore } from '@riverlog/core';
import type { AnyView, RowOf, ViewEntry } from '@riverlog/view-builder';

/**
 * Every row of a view table that sits in at least one of its indexes (each
 * view of this example has an index listing all its rows), sorted by key.
 * Reads `table` when given, else the table the view's alias names.
 *
 * @example
 * const before = await allRows(store, winnerView, 'contributions@1');
 */
export async function allRows<V extends AnyView>(store: ViewStore, view: V, table?: string): Promise<ViewEntry<RowOf<V>>[]> {
  const from = table ?? (await store.alias(view.name)) ?? view.table;
  const rows = new Map<string, unknown>();
  for (const index of view.indexNames) {
    for (const row of await store.query(from, { index })) rows.set(row.key, row.value);
  }
  return [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value: value as RowOf<V> }));
}
