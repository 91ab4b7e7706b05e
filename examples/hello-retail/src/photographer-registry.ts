import { type ApplyContext, changes, defineView } from '@riverlog/view-builder';
import { retailCatalog } from './catalog.js';
import { normalisePhone } from './domain.js';

/** A photographer as the registry knows them. */
export interface Photographer {
  readonly kind: 'photographer';
  /** The photographer's user id. */
  readonly id: string;
  /** `+1…`, or null until they register a phone. */
  readonly phone: string | null;
  /** How many times they registered (or changed) a phone. */
  readonly registrations: number;
  /** Assignments finished with a photo. */
  readonly completed: number;
  /** Products they are assigned to now, sorted (normally at most one). */
  readonly assignments: readonly string[];
}

/** Where a product stands in photo assignment. */
export interface ProductAssignment {
  readonly kind: 'product';
  readonly id: string;
  /** When the product was created, or null before its `product/create` is folded. */
  readonly createdAt: string | null;
  /** Assigned now, or who took the photo once `photographed`. */
  readonly photographer: string | null;
  readonly photographed: boolean;
  /** Photographers whose assignment to this product timed out: not assigned it again. */
  readonly released: readonly string[];
}

export type RegistryRow = Photographer | ProductAssignment;

/** The registry's row key of a photographer. */
export const photographerKey = (userId: string): string => `photographer:${userId}`;
/** The registry's row key of a product. */
export const productKey = (productId: string): string => `product:${productId}`;

function blankRow(key: string): RegistryRow {
  const [kind, ...rest] = key.split(':');
  const id = rest.join(':');
  return kind === 'photographer'
    ? { kind: 'photographer', id, phone: null, registrations: 0, completed: 0, assignments: [] }
    : { kind: 'product', id, createdAt: null, photographer: null, photographed: false, released: [] };
}

function photographerRow(view: ApplyContext<RegistryRow>, userId: string): Photographer {
  const key = photographerKey(userId);
  const row = view.get(key) ?? blankRow(key);
  if (row.kind !== 'photographer') throw new TypeError(`registry row ${key} is a ${row.kind} row`);
  return row;
}

function productRow(row: RegistryRow): ProductAssignment {
  if (row.kind !== 'product') throw new TypeError(`registry row for product ${row.id} is a ${row.kind} row`);
  return row;
}

const withAssignment = (list: readonly string[], productId: string) => [...new Set([...list, productId])].sort();
const withoutAssignment = (list: readonly string[], productId: string) => list.filter((id) => id !== productId);

/**
 * The photographer registry: per photographer their phone (normalised to
 * `+1…`), registrations, assignments completed and current assignment; per
 * product where its photo assignment stands.
 *
 * It is a multi-entity view: `photo/*` and `product/image` events sit in the
 * product's partition but change the photographer's row as well, through
 * `changes({...})`. Every change to a photographer row is an add/remove of
 * one product (ordered within that product's partition) or an increment, so
 * the rows come out the same however partitions interleave.
 *
 * The first photo received ends a product's assignment: its assignee
 * completes it; later photos and assignments of that product change nothing.
 *
 * @example
 * const registry = openView(photographerRegistryView, store);
 * const [best] = (await registry.list({ index: 'free', limit: 1 })).rows; // fewest completed first
 */
export const photographerRegistryView = definePhotographerRegistryView(1);

/** The photographer registry at a given version, e.g. to rebuild it beside the current one. */
export function definePhotographerRegistryView(version: number) {
  return defineView<RegistryRow>()({
    name: 'photographers',
    version,
    catalog: retailCatalog,
    initial: blankRow,
    key: (event) => (event.type === 'user-info/update-phone' ? photographerKey(event.data.id) : productKey(event.data.id)),
    apply: {
      'user-info/update-phone': (row, { data }) =>
        row.kind === 'photographer' ? { ...row, phone: normalisePhone(data.phone), registrations: row.registrations + 1 } : row,
      'product/create': (row, { time }) => ({ ...productRow(row), createdAt: time }),
      'photo/assigned': (row, { data }, view) => {
        const product = productRow(row);
        if (product.photographed) return row;
        const next = photographerRow(view, data.photographer);
        const rows: Record<string, RegistryRow> = {
          [view.key]: { ...product, photographer: data.photographer },
          [photographerKey(data.photographer)]: { ...next, assignments: withAssignment(next.assignments, data.id) },
        };
        if (product.photographer !== null && product.photographer !== data.photographer) {
          const previous = photographerRow(view, product.photographer);
          rows[photographerKey(product.photographer)] = { ...previous, assignments: withoutAssignment(previous.assignments, data.id) };
        }
        return changes(rows);
      },
      'photo/unassigned': (row, { data }, view) => {
        const product = productRow(row);
        const released = photographerRow(view, data.photographer);
        return changes({
          [view.key]: {
            ...product,
            photographer: product.photographer === data.photographer && !product.photographed ? null : product.photographer,
            released: withAssignment(product.released, data.photographer),
          },
          [photographerKey(data.photographer)]: { ...released, assignments: withoutAssignment(released.assignments, data.id) },
        });
      },
      'product/image': (row, { data }, view) => {
        const product = productRow(row);
        if (product.photographed) return row;
        const photographed = { ...product, photographed: true };
        if (product.photographer === null) return photographed;
        const shooter = photographerRow(view, product.photographer);
        if (!shooter.assignments.includes(data.id)) return photographed;
        return changes({
          [view.key]: photographed,
          [photographerKey(product.photographer)]: {
            ...shooter,
            completed: shooter.completed + 1,
            assignments: withoutAssignment(shooter.assignments, data.id),
          },
        });
      },
    },
    indexes: {
      /** Every photographer, by id. */
      photographers: (row) => (row.kind === 'photographer' ? [row.id] : undefined),
      /** Registered photographers with no current assignment, fewest completed first. */
      free: (row) =>
        row.kind === 'photographer' && row.phone !== null && row.assignments.length === 0 ? [row.completed, row.id] : undefined,
      /** Every product, by id. */
      products: (row) => (row.kind === 'product' ? [row.id] : undefined),
      /** Products created and waiting for a photographer, oldest first. */
      waiting: (row) =>
        row.kind === 'product' && row.createdAt !== null && row.photographer === null && !row.photographed
          ? [row.createdAt, row.id]
          : undefined,
    },
  });
}
