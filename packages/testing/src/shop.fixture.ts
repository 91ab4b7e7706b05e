// A small catalog and views for the kit's own tests.
import { defineCatalog, defineEvent, t } from '@riverlog/core';
import { changes, defineView } from '@riverlog/view-builder';

export const shop = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string, buyer: t.string } }),
  defineEvent('product/rename', { data: { id: t.string, name: t.string } }),
]);

/** Purchases per product and per buyer: correct (the id window absorbs duplicates; increments commute). */
export const purchases = defineView({
  name: 'purchases',
  version: 1,
  catalog: shop,
  initial: { count: 0 },
  key: (event) => (event.type === 'product/purchase' ? [event.data.id, `buyer:${event.data.buyer}`] : undefined),
  apply: {
    'product/purchase': (row) => ({ count: row.count + 1 }),
  },
});

/** The same count with the id window turned off: an event appended twice is counted twice. */
export const purchasesWithoutIdWindow = defineView({
  name: 'purchases-no-window',
  version: 1,
  catalog: shop,
  initial: { count: 0 },
  idWindow: 0,
  key: (event) => event.data.id,
  apply: {
    'product/purchase': (row) => ({ count: row.count + 1 }),
  },
});

/** The last product touched, over all partitions: depends on the order partitions are folded in. */
export const lastTouched = defineView({
  name: 'last-touched',
  version: 1,
  catalog: shop,
  initial: { product: '' },
  key: () => 'last',
  apply: {
    'product/create': (_row, event) => ({ product: event.data.id }),
    'product/purchase': (_row, event) => ({ product: event.data.id }),
  },
});

/** Names by product, and the catalog's size in one row, through changes(): correct. */
export const names = defineView({
  name: 'names',
  version: 1,
  catalog: shop,
  initial: { name: '', products: 0 },
  key: (event) => event.data.id,
  apply: {
    'product/create': (row, event, view) => {
      const total = view.get('total') ?? { name: '', products: 0 };
      return changes({ [view.key]: { ...row, name: event.data.name }, total: { ...total, products: total.products + 1 } });
    },
    'product/rename': (row, event) => ({ ...row, name: event.data.name }),
  },
});

/** The first product touched, over all partitions: depends on the order partitions are folded in. */
export const firstTouched = defineView({
  name: 'first-touched',
  version: 1,
  catalog: shop,
  initial: { product: '' },
  key: () => 'first',
  apply: {
    'product/create': (row, event) => (row.product === '' ? { product: event.data.id } : row),
    'product/purchase': (row, event) => (row.product === '' ? { product: event.data.id } : row),
  },
});

/** Counts purchases, and throws for the buyer "nobody": the spec reports the skipped event. */
export const picky = defineView({
  name: 'picky',
  version: 1,
  catalog: shop,
  initial: { count: 0 },
  key: (event) => event.data.id,
  apply: {
    'product/purchase': (row, event) => {
      if (event.data.buyer === 'nobody') throw new Error('no buyer');
      return { count: row.count + 1 };
    },
  },
});
