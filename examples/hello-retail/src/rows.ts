import type { ViewStore } from '@riverlog/core';
import type { AnyView, RowOf, ViewEntry } from '@riverlog/view-builder';

/**
 * Every row of a view table, sorted by key, read page after page. Reads
 * `table` when given, else the table the view's alias names (the version
 * reads go to), else the view's own.
 *
 * @example
 * const before = await allRows(store, winnerView, 'contributions@1');
 */
export async function allRows<V extends AnyView>(store: ViewStore, view: V, table?: string): Promise<ViewEntry<RowOf<V>>[]> {
  const from = table ?? (await store.alias(view.name)) ?? view.table;
  const rows: ViewEntry<RowOf<V>>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(from, cursor === undefined ? {} : { cursor });
    for (const { key, value } of page.rows) rows.push({ key, value: value as RowOf<V> });
    cursor = page.cursor;
  } while (cursor !== undefined);
  return rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
