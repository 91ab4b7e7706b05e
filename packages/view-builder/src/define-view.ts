import type { AnyEventDefinition, Catalog, Envelope, EventOf, EventTypeOf, IndexKey } from '@riverlog/core';
import { RiverlogError } from '@riverlog/core';

/**
 * Returned by an `apply` handler (or given in `changes`) to delete a row. The
 * store keeps a tombstone (what the row applied stays known), and reads see
 * no row.
 *
 * @example
 * 'product/delete': () => del,
 */
export const del: unique symbol = Symbol.for('riverlog.view.delete');
/** The deletion sentinel's type. */
export type Del = typeof del;

/** Event ids each version of a view remembers to fold each id once, unless the view or `runView` says otherwise. */
export const DEFAULT_ID_WINDOW = 100_000;

/**
 * Changes to several rows of a view, returned by an `apply` handler that
 * updates more than the row it was called for. Make one with {@link changes}.
 */
export class RowChanges<S> {
  /** @internal */
  readonly rows: ReadonlyMap<string, S | Del>;
  /** @internal */
  constructor(rows: ReadonlyMap<string, S | Del>) {
    this.rows = rows;
  }
}

/**
 * Changes to several rows at once, by key: a new state, or `del` to delete.
 * Rows not named (the handler's own row included) stay as they are.
 *
 * @example
 * 'product/purchase': (product, event, view) =>
 *   changes({
 *     [view.key]: { ...product, purchases: product.purchases + 1 },
 *     [`person:${product.creator}`]: credit(view.get(`person:${product.creator}`)),
 *   }),
 */
export function changes<S>(rows: Readonly<Record<string, S | Del>>): RowChanges<S> {
  return new RowChanges(new Map(Object.entries(rows)));
}

/**
 * What an `apply` handler sees besides the state and the event: the key of
 * the row it applies to, and read access to the other rows of the same view
 * as folded so far (earlier events of the same batch included).
 */
export interface ApplyContext<S> {
  /** The key of the row this call applies to. */
  readonly key: string;
  /** False when the row does not exist yet: `state` is then the view's `initial`. */
  readonly exists: boolean;
  /**
   * Another row of this view, or `undefined` when it does not exist. Rows a
   * batch did not load yet are loaded on demand: the handler may then be
   * called again for the same event, so it must not have side effects.
   */
  get(key: string): S | undefined;
}

/**
 * Folds one event into a row: returns the new state, the same state (no
 * change), `del` (delete the row), or `changes({...})` for several rows.
 * Pure: no I/O, no clock, no randomness; it may run more than once per event.
 */
export type Apply<S, E> = (state: S, event: E, view: ApplyContext<S>) => S | Del | RowChanges<S>;

/** The decoded event of one type of a catalog. */
export type EventOfType<C, T> = Extract<EventOf<C>, { type: T }>;

/** Any catalog. */
export type AnyCatalog = Catalog<AnyEventDefinition>;

/** The row key (or keys) an event touches; `undefined` or `[]` when it touches none. */
export type RowKeys = string | readonly string[] | undefined;

/** The declaration of a view: what `defineView` takes. */
export interface ViewSpec<C extends AnyCatalog, S, T extends EventTypeOf<C>, I extends string> {
  /** The view's name; reads go through the alias of this name. Letters, digits, `-`, `_`, `.`, `:`, `/`. */
  readonly name: string;
  /** A whole number ≥ 1. Raise it when `apply`, `key`, `initial` or `indexes` change: version N is rebuilt from the start of the log beside N-1. */
  readonly version: number;
  /** The catalog events are decoded with. */
  readonly catalog: C;
  /** The state of a row that does not exist yet; a function receives the row key. */
  readonly initial: S | ((key: string) => S);
  /** The row(s) an event touches. Default: the event's `subject`. */
  readonly key?: (event: EventOfType<C, T>) => RowKeys;
  /** One pure handler per event type the view folds; other types are skipped. */
  readonly apply: { readonly [K in T]: Apply<NoInfer<S>, EventOfType<C, K>> };
  /** Secondary indexes: a sort key per row, or `undefined` to leave the row out of that index. */
  readonly indexes?: { readonly [N in I]: (row: NoInfer<S>) => IndexKey | undefined };
  /**
   * How many of the newest event ids the view remembers, so that an event
   * appended twice (same id, two positions) is folded once. Default 100,000;
   * 0 turns the check off. Fixed when the version's table is created: a
   * runner asking another window fails with `INVALID_VIEW` (raise the
   * version to change it). See the README ("Duplicates").
   */
  readonly idWindow?: number;
}

/**
 * A defined view: its table name, the event types it folds, and its fold.
 * Pass it to `runView`, `rebuildView`, `replay` and `openView`.
 */
export interface View<C extends AnyCatalog = AnyCatalog, S = unknown, T extends string = string, I extends string = string> {
  readonly name: string;
  readonly version: number;
  /** The store table of this version: `${name}@${version}`. */
  readonly table: string;
  readonly catalog: C;
  /** The event types the view folds. */
  readonly types: readonly T[];
  /** The names those types are stored under in a log: each type and its former names (`renamedFrom`), for read filters. */
  readonly readTypes: readonly string[];
  /** The names of its secondary indexes. */
  readonly indexNames: readonly I[];
  /** How many of the newest event ids it remembers to fold each id once. */
  readonly idWindow: number;
  /** @internal */
  readonly fold: ViewFold<S>;
}

/** The fold of a view, as the runners use it. @internal */
export interface ViewFold<S> {
  handles(type: string): boolean;
  keysOf(event: Envelope): readonly string[];
  initial(key: string): S;
  apply(type: string): Apply<S, Envelope>;
  indexesOf(row: S): Record<string, IndexKey> | undefined;
}

/** Any defined view, whatever its catalog, row type and indexes. */
// biome-ignore lint/suspicious/noExplicitAny: the widest view, used only as a parameter constraint
export type AnyView = View<any, any, any, any>;

/** The row type of a view. */
export type RowOf<V> = V extends View<AnyCatalog, infer S, string, string> ? S : never;
/** The index names of a view. */
export type IndexOf<V> = V extends View<AnyCatalog, infer _S, string, infer I> ? I : never;
/** The events a view folds. */
export type ViewEventOf<V> = V extends View<infer C, infer _S, infer T, string> ? EventOfType<C, T> : never;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

function invalid(name: string, message: string): RiverlogError {
  return new RiverlogError('INVALID_VIEW', `View ${JSON.stringify(name)}: ${message}`);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Declares a view: a read model folded from the events of a catalog. The
 * event of each handler is typed from the catalog and the row type from
 * `initial` — no annotations needed. To name the row type once instead,
 * call `defineView<Row>()({ ... })`.
 *
 * @example
 * const products = defineView({
 *   name: 'products',
 *   version: 1,
 *   catalog,
 *   initial: { id: '', name: '', category: '', image: undefined as string | undefined },
 *   key: (event) => event.data.id,
 *   apply: {
 *     'product/create': (product, { data }) => ({ ...product, id: data.id, name: data.name, category: data.category }),
 *     'product/image': (product, { data }, row) => (row.exists ? { ...product, image: data.image } : product),
 *   },
 *   indexes: { byCategory: (product) => [product.category, product.name] },
 * });
 */
export function defineView<C extends AnyCatalog, S, T extends EventTypeOf<C>, I extends string = never>(
  spec: ViewSpec<C, S, T, I>,
): View<C, S, T, I>;
/**
 * Fixes the row type once, then declares the view with it.
 *
 * @example
 * interface Product { id: string; name: string; image?: string }
 * const products = defineView<Product>()({ name: 'products', version: 1, catalog, initial: { id: '', name: '' }, apply: { ... } });
 */
export function defineView<S>(): <C extends AnyCatalog, T extends EventTypeOf<C>, I extends string = never>(
  spec: ViewSpec<C, S, T, I>,
) => View<C, S, T, I>;
export function defineView(spec?: ViewSpec<AnyCatalog, unknown, string, string>): unknown {
  if (spec === undefined) return (later: ViewSpec<AnyCatalog, unknown, string, string>) => build(later);
  return build(spec);
}

function build(spec: ViewSpec<AnyCatalog, unknown, string, string>): View<AnyCatalog, unknown, string, string> {
  const name = typeof spec?.name === 'string' ? spec.name : '';
  if (!NAME.test(name)) {
    throw invalid(name, 'name must start with a letter or digit and use only letters, digits, "-", "_", ".", ":", "/".');
  }
  if (!Number.isInteger(spec.version) || spec.version < 1) throw invalid(name, `version must be a whole number ≥ 1, got ${spec.version}.`);
  if (!spec.catalog || typeof spec.catalog.decode !== 'function') throw invalid(name, 'catalog must be made with defineCatalog.');
  const handlers = new Map<string, Apply<unknown, Envelope>>();
  for (const [type, handler] of Object.entries(spec.apply ?? {})) {
    if (!spec.catalog.has(type)) throw invalid(name, `apply names ${JSON.stringify(type)}, which the catalog does not define.`);
    if (typeof handler !== 'function') throw invalid(name, `apply[${JSON.stringify(type)}] must be a function.`);
    handlers.set(type, handler as Apply<unknown, Envelope>);
  }
  if (handlers.size === 0) throw invalid(name, 'apply must handle at least one event type.');
  const idWindow = spec.idWindow ?? DEFAULT_ID_WINDOW;
  if (!Number.isSafeInteger(idWindow) || idWindow < 0) throw invalid(name, `idWindow must be a whole number ≥ 0, got ${idWindow}.`);
  const indexEntries = Object.entries(spec.indexes ?? {}) as [string, (row: unknown) => IndexKey | undefined][];
  for (const [index, fn] of indexEntries) {
    if (typeof fn !== 'function') throw invalid(name, `indexes.${index} must be a function of the row.`);
  }

  const initialValue = spec.initial;
  const initial =
    typeof initialValue === 'function'
      ? (initialValue as (key: string) => unknown)
      : (
          (frozen) => () =>
            frozen
        )(deepFreeze(initialValue));
  const keyOf = spec.key as ((event: Envelope) => RowKeys) | undefined;

  // Events stored under a type's former name (renamedFrom) decode as the new type: the view folds them too.
  const readTypes = (spec.catalog as AnyCatalog).storedTypes([...handlers.keys()]);
  const handled = new Set(readTypes);
  const fold: ViewFold<unknown> = {
    handles: (type) => handled.has(type),
    keysOf(event) {
      const keys = keyOf ? keyOf(event) : event.subject;
      if (keys === undefined) return [];
      if (typeof keys === 'string') return [keys];
      if (Array.isArray(keys) && keys.every((k) => typeof k === 'string')) return keys;
      throw new TypeError(`key must return a string, an array of strings or undefined; got ${JSON.stringify(keys)}`);
    },
    initial,
    apply: (type) => handlers.get(type) as Apply<unknown, Envelope>,
    indexesOf(row) {
      if (indexEntries.length === 0) return undefined;
      const out: Record<string, IndexKey> = {};
      for (const [index, fn] of indexEntries) {
        const key = fn(row);
        if (key === undefined) continue;
        if (!Array.isArray(key) || !key.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part)))) {
          throw new TypeError(
            `indexes.${index} must return an array of strings and finite numbers or undefined; got ${JSON.stringify(key)}`,
          );
        }
        out[index] = key;
      }
      return out;
    },
  };

  return Object.freeze({
    name,
    version: spec.version,
    table: `${name}@${spec.version}`,
    catalog: spec.catalog,
    types: [...handlers.keys()],
    readTypes,
    indexNames: indexEntries.map(([index]) => index),
    idWindow,
    fold,
  });
}
