// Views over the retail fixture catalog, shared by this package's tests.
import { changes, defineView } from './define-view.js';
import { catalog } from './retail.fixture.js';

export interface Product {
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly image?: string;
}

/** Products by id, listed by category sorted by name. */
export const productsView = defineView<Product>()({
  name: 'products',
  version: 1,
  catalog,
  initial: { id: '', name: '', category: '' },
  key: (event) => event.data.id,
  apply: {
    'product/create': (product, { data }) => ({ ...product, id: data.id, name: data.name, category: data.category }),
    'product/image': (product, { data }, row) => (row.exists ? { ...product, image: data.image } : product),
  },
  indexes: { byCategory: (product) => [product.category, product.name] },
});

/** Not idempotent: counts every event and sums a number derived from its id, so a double apply shows. */
export const tallyView = defineView({
  name: 'tally',
  version: 1,
  catalog,
  initial: { count: 0, sum: 0, last: '' },
  apply: {
    'product/create': (row, event) => ({ count: row.count + 1, sum: row.sum + event.data.name.length, last: event.id }),
    'product/image': (row, event) => ({ count: row.count + 1, sum: row.sum + event.data.image.length, last: event.id }),
    'product/purchase': (row, event) => ({ count: row.count + 1, sum: row.sum + 1, last: event.id }),
  },
});

export type WinnerRow =
  | { readonly kind: 'product'; readonly id: string; readonly creator: string; readonly photographer?: string; readonly purchases: number }
  | { readonly kind: 'person'; readonly id: string; readonly role: 'creator' | 'photographer'; readonly score: number };

const personKey = (role: 'creator' | 'photographer', id: string) => `person:${role}:${id}`;

function credit(row: WinnerRow | undefined, role: 'creator' | 'photographer', id: string): WinnerRow {
  const score = row?.kind === 'person' ? row.score : 0;
  return { kind: 'person', id, role, score: score + 1 };
}

/** Hello Retail's winner: a purchase credits the product's creator and (after the photo) its photographer. */
export const winnerView = defineView<WinnerRow>()({
  name: 'winner',
  version: 1,
  catalog,
  initial: (key) => ({ kind: 'product', id: key.slice('product:'.length), creator: '', purchases: 0 }),
  key: (event) => `product:${event.data.id}`,
  apply: {
    'product/create': (row, event) =>
      row.kind === 'product' ? { ...row, creator: event.source.split('/')[2] ?? event.source, purchases: row.purchases } : row,
    'product/image': (row, event, view) =>
      row.kind === 'product' && view.exists ? { ...row, photographer: event.source.split('/')[2] ?? event.source } : row,
    'product/purchase': (row, _event, view) => {
      if (row.kind !== 'product' || !view.exists) return row;
      const creator = personKey('creator', row.creator);
      const updates: Record<string, WinnerRow> = {
        [view.key]: { ...row, purchases: row.purchases + 1 },
        [creator]: credit(view.get(creator), 'creator', row.creator),
      };
      if (row.photographer) {
        const photographer = personKey('photographer', row.photographer);
        updates[photographer] = credit(view.get(photographer), 'photographer', row.photographer);
      }
      return changes(updates);
    },
  },
  indexes: { byScore: (row) => (row.kind === 'person' ? [row.role, row.score] : undefined) },
});
