import type { IndexKey, ViewStore } from '@riverlog/core';
import { RiverlogError } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';
import type { AnyView, IndexOf, RowOf } from './define-view.js';

/** A page query of a view: by row key (no `index`) or by one of its indexes, in key order. */
export interface ListOptions<I extends string = string> {
  /** List by this index's key (then by row key); without it, by row key. */
  readonly index?: I;
  /** With an index: only rows whose index key starts with these components, e.g. `['shoes']`. */
  readonly prefix?: IndexKey;
  /** Rows per page. Default 100. */
  readonly limit?: number;
  /** Largest key first. */
  readonly reverse?: boolean;
  /** The `cursor` of the previous page, to read the next one. */
  readonly cursor?: string;
}

/** A row with its key. */
export interface ViewEntry<S> {
  readonly key: string;
  readonly value: S;
}

/** One page of rows; `cursor` is present when more follow. */
export interface ViewPageOf<S> {
  readonly rows: readonly ViewEntry<S>[];
  readonly cursor?: string;
}

/**
 * Typed reads of one version of a view. They read that version's own table
 * (`${name}@${version}`), never another version's: rows are always of the
 * type the view declares.
 */
export interface ViewReader<S, I extends string> {
  /** The table read: this version's, `${name}@${version}`. */
  readonly table: string;
  /** One row, or `undefined`. */
  get(key: string): Promise<S | undefined>;
  /** Several rows; keys without a row are missing from the map. */
  getMany(keys: readonly string[]): Promise<Map<string, S>>;
  /** A page of rows by key or by an index (default 100 rows; pass the page's `cursor` for the next). An undeclared index is `UNKNOWN_INDEX`. */
  list(options?: ListOptions<I>): Promise<ViewPageOf<S>>;
  /** Every row matching `options` (all of them by default), page after page. */
  all(options?: Omit<ListOptions<I>, 'cursor'>): AsyncIterable<ViewEntry<S>>;
  /** The table reads of the view's name go to now (its alias, set once a version caught up), if any. */
  current(): Promise<string | undefined>;
}

const LIST_OPTIONS = ['index', 'prefix', 'limit', 'reverse', 'cursor'];

/**
 * Reads a view, typed from the view: its rows and index names. The reader
 * reads the version it was opened with — after `rebuildView` switched the
 * alias to version 2, `openView(v1)` still reads `products@1` (as long as
 * that table is kept), never version 2's rows typed as version 1. Deploy
 * readers with the new version's definition to read the new version;
 * `current()` tells which version the alias names.
 *
 * @example
 * const products = openView(productsView, store);
 * const boot = await products.get('p1');
 * const page = await products.list({ index: 'byCategory', prefix: ['shoes'], limit: 20 });
 * const next = page.cursor ? await products.list({ index: 'byCategory', prefix: ['shoes'], cursor: page.cursor }) : undefined;
 * for await (const { key, value } of products.all()) console.log(key, value.name);
 */
export function openView<V extends AnyView>(view: V, store: ViewStore): ViewReader<RowOf<V>, IndexOf<V>> {
  type S = RowOf<V>;
  const table: string = view.table;
  const indexes: readonly string[] = view.indexNames;

  function checked(options: ListOptions<string>): ListOptions<string> {
    checkOptions(`openView(${table}).list`, options, LIST_OPTIONS);
    if (options.index !== undefined && !indexes.includes(options.index)) {
      throw new RiverlogError(
        'UNKNOWN_INDEX',
        `View ${table} has no index ${JSON.stringify(options.index)}; it declares ${indexes.length > 0 ? indexes.map((i) => JSON.stringify(i)).join(', ') : 'no indexes'}.`,
      );
    }
    return options;
  }

  async function list(options: ListOptions<string> = {}): Promise<ViewPageOf<S>> {
    const page = await store.list(table, checked(options));
    return page as ViewPageOf<S>;
  }

  return {
    table,
    async get(key) {
      return (await store.get(table, key)) as S | undefined;
    },
    async getMany(keys) {
      const rows = await store.rows(table, keys);
      const out = new Map<string, S>();
      for (const [key, row] of rows) if (row.value !== undefined) out.set(key, row.value as S);
      return out;
    },
    list,
    async *all(options = {}) {
      let cursor: string | undefined;
      do {
        const page = await list({ ...options, ...(cursor === undefined ? {} : { cursor }) });
        yield* page.rows;
        cursor = page.cursor;
      } while (cursor !== undefined);
    },
    current: () => store.alias(view.name),
  };
}
