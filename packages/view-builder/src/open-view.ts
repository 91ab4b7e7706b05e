import type { IndexKey, ViewStore } from '@riverlog/core';
import type { AnyView, IndexOf, RowOf } from './define-view.js';

/** Options of `list`: rows of one index in key order. */
export interface ListOptions {
  /** Only rows whose index key starts with these components, e.g. `['shoes']`. */
  readonly prefix?: IndexKey;
  readonly limit?: number;
  /** Largest key first. */
  readonly reverse?: boolean;
}

/** A row with its key. */
export interface ViewEntry<S> {
  readonly key: string;
  readonly value: S;
}

/** Typed reads of a view, through its alias (the current version). */
export interface ViewReader<S, I extends string> {
  /** One row, or `undefined`. */
  get(key: string): Promise<S | undefined>;
  /** Several rows; keys without a row are missing from the map. */
  getMany(keys: readonly string[]): Promise<Map<string, S>>;
  /** Rows of an index, sorted by its key (then by row key). */
  list(index: I, options?: ListOptions): Promise<ViewEntry<S>[]>;
  /** The table reads go to now: the alias's target, or this version's table while no alias is set. */
  table(): Promise<string>;
}

/**
 * Reads a view as users see it: through the alias of its name, so a rebuilt
 * version swaps in at once. Rows are typed from the view.
 *
 * @example
 * const products = openView(productsView, store);
 * const boot = await products.get('p1');
 * const shoes = await products.list('byCategory', { prefix: ['shoes'], limit: 20 });
 */
export function openView<V extends AnyView>(view: V, store: ViewStore): ViewReader<RowOf<V>, IndexOf<V>> {
  type S = RowOf<V>;
  const table = async () => (await store.alias(view.name)) ?? view.table;
  return {
    table,
    async get(key) {
      return (await store.get(await table(), key)) as S | undefined;
    },
    async getMany(keys) {
      return (await store.getMany(await table(), keys)) as Map<string, S>;
    },
    async list(index, options = {}) {
      const rows = await store.query(await table(), { index, ...options });
      return rows as ViewEntry<S>[];
    },
  };
}
