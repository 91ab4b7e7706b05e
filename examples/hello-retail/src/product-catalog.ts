import { defineView } from '@riverlog/view-builder';
import { retailCatalog } from './catalog.js';
import { creatorOf } from './domain.js';

/** A category, and who created it first (earliest event time, then product id). */
export interface Category {
  readonly category: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly firstProduct: string;
}

/** A product as the shop lists it; `image` once a photo was received. */
export interface Product {
  readonly id: string;
  readonly brand: string;
  readonly name: string;
  readonly description: string;
  readonly category: string;
  readonly creator: string;
  readonly image: string | null;
}

function isEarlier(time: string, productId: string, than: Category): boolean {
  if (than.createdAt === '') return true;
  if (time !== than.createdAt) return Date.parse(time) < Date.parse(than.createdAt);
  return productId < than.firstProduct;
}

/**
 * Each category once, with who created it first. "First" is decided by the
 * event's time, not by arrival order: products of one category sit in
 * different partitions, and the view must not depend on how they interleave.
 *
 * @example
 * const runner = runView(categoriesView, { log, store });
 * const { rows } = await openView(categoriesView, store).list({ index: 'byName' });
 */
export const categoriesView = defineCategoriesView(1);

/** The categories view at a given version, e.g. to rebuild it beside the current one. */
export function defineCategoriesView(version: number) {
  return defineView<Category>()({
    name: 'categories',
    version,
    catalog: retailCatalog,
    initial: (category) => ({ category, createdBy: '', createdAt: '', firstProduct: '' }),
    key: (event) => event.data.category,
    apply: {
      'product/create': (row, { data, time, source }) =>
        isEarlier(time, data.id, row)
          ? { category: data.category, createdBy: creatorOf(source), createdAt: time, firstProduct: data.id }
          : row,
    },
    indexes: { byName: (row) => [row.category] },
  });
}

/**
 * Products by id, listed by category and name, with their image once known.
 * An image folded before its product (never in one ordered partition, but
 * possible if the create was dead-lettered) is kept and the rest filled in later.
 *
 * @example
 * const shoes = await openView(productsView, store).list({ index: 'byCategory', prefix: ['Shoes'] });
 */
export const productsView = defineProductsView(1);

/** The products view at a given version, e.g. to rebuild it beside the current one. */
export function defineProductsView(version: number) {
  return defineView<Product>()({
    name: 'products',
    version,
    catalog: retailCatalog,
    initial: (id) => ({ id, brand: '', name: '', description: '', category: '', creator: '', image: null }),
    key: (event) => event.data.id,
    apply: {
      'product/create': (row, { data, source }) => ({
        ...row,
        brand: data.brand,
        name: data.name,
        description: data.description,
        category: data.category,
        creator: creatorOf(source),
      }),
      'product/image': (row, { data }) => ({ ...row, image: data.image }),
    },
    indexes: {
      byId: (row) => [row.id],
      byCategory: (row) => (row.category === '' ? undefined : [row.category, row.name, row.id]),
    },
  });
}
