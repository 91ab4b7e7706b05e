import type { Envelope } from '@riverlog/core';
import { describe, expectTypeOf, test } from 'vitest';
import { type ApplyContext, changes, defineView, del, type RowOf } from './define-view.js';
import { catalog } from './retail.fixture.js';

describe('defineView types', () => {
  test('event data is typed from the catalog, the row from initial', () => {
    const products = defineView({
      name: 'products',
      version: 1,
      catalog,
      initial: { id: '', name: '', category: '', image: undefined as string | undefined },
      key: (event) => event.data.id,
      apply: {
        'product/create': (product, event) => {
          expectTypeOf(event.type).toEqualTypeOf<'product/create'>();
          expectTypeOf(event.data).toEqualTypeOf<{ id: string; brand: string; name: string; description: string; category: string }>();
          expectTypeOf(product).toEqualTypeOf<{ id: string; name: string; category: string; image: string | undefined }>();
          return { ...product, id: event.data.id, name: event.data.name, category: event.data.category };
        },
        'product/image': (product, event, row) => {
          expectTypeOf(event.data).toEqualTypeOf<{ id: string; image: string }>();
          expectTypeOf(row).toEqualTypeOf<ApplyContext<RowOf<typeof products>>>();
          return row.exists ? { ...product, image: event.data.image } : del;
        },
      },
      indexes: { byCategory: (product) => [product.category, product.name] },
    });
    expectTypeOf<RowOf<typeof products>>().toEqualTypeOf<{ id: string; name: string; category: string; image: string | undefined }>();
    expectTypeOf(products.types).toEqualTypeOf<readonly ('product/create' | 'product/image')[]>();
    expectTypeOf(products.indexNames).toEqualTypeOf<readonly 'byCategory'[]>();
  });

  test('key sees only the handled event types', () => {
    defineView({
      name: 'logins',
      version: 1,
      catalog,
      initial: { count: 0 },
      key: (event) => {
        expectTypeOf(event.type).toEqualTypeOf<'user-info/login' | 'product/purchase'>();
        return event.data.id;
      },
      apply: {
        'user-info/login': (row) => ({ count: row.count + 1 }),
        'product/purchase': (row) => row,
      },
    });
  });

  test('initial as a function of the key', () => {
    const counters = defineView({
      name: 'counters',
      version: 1,
      catalog,
      initial: (key: string) => ({ key, count: 0 }),
      apply: { 'product/purchase': (row) => ({ ...row, count: row.count + 1 }) },
    });
    expectTypeOf<RowOf<typeof counters>>().toEqualTypeOf<{ key: string; count: number }>();
  });

  test('the row type given once as a generic', () => {
    interface Score {
      readonly who: string;
      readonly points: number;
    }
    const scores = defineView<Score>()({
      name: 'scores',
      version: 1,
      catalog,
      initial: { who: '', points: 0 },
      apply: {
        'product/purchase': (score, event, view) => {
          expectTypeOf(score).toEqualTypeOf<Score>();
          expectTypeOf(view.get('x')).toEqualTypeOf<Score | undefined>();
          return changes({ [view.key]: { ...score, points: score.points + 1 }, [`other:${event.data.id}`]: del });
        },
      },
    });
    expectTypeOf<RowOf<typeof scores>>().toEqualTypeOf<Score>();
  });

  test('mistakes are compile errors', () => {
    defineView({
      name: 'bad',
      version: 1,
      catalog,
      initial: { n: 0 },
      apply: {
        // @ts-expect-error: not a type of the catalog
        'product/created': (row: { n: number }) => row,
      },
    });
    defineView({
      name: 'bad',
      version: 1,
      catalog,
      initial: { n: 0 },
      apply: {
        // @ts-expect-error: the handler must return the row type
        'product/purchase': () => ({ m: 1 }),
      },
    });
    defineView({
      name: 'bad',
      version: 1,
      catalog,
      initial: { n: 0 },
      apply: {
        // @ts-expect-error: product/purchase has no data.name
        'product/purchase': (row, event) => ({ n: row.n + event.data.name.length }),
      },
    });
    defineView({
      name: 'bad',
      version: 1,
      catalog,
      initial: { n: 0 },
      apply: { 'product/purchase': (row) => row },
      // @ts-expect-error: an index key is an array of strings and numbers
      indexes: { byN: (row) => row.n },
    });
    const envelope = {} as Envelope;
    expectTypeOf(envelope).not.toBeAny();
  });
});

describe('view helper types', () => {
  test('RowOf, IndexOf and ViewEventOf', async () => {
    const { productsView } = await import('./views.fixture.js');
    const { openView } = await import('./open-view.js');
    type V = typeof productsView;
    expectTypeOf<import('./define-view.js').IndexOf<V>>().toEqualTypeOf<'byCategory'>();
    expectTypeOf<import('./define-view.js').ViewEventOf<V>['type']>().toEqualTypeOf<'product/create' | 'product/image'>();
    const reader = openView(productsView, {} as import('@riverlog/core').ViewStore);
    expectTypeOf(reader.get('p1')).resolves.toEqualTypeOf<import('./views.fixture.js').Product | undefined>();
    expectTypeOf(reader.list).parameter(0).toEqualTypeOf<import('./open-view.js').ListOptions<'byCategory'> | undefined>();
    expectTypeOf(reader.list({ index: 'byCategory' })).resolves.toEqualTypeOf<
      import('./open-view.js').ViewPageOf<import('./views.fixture.js').Product>
    >();
    // @ts-expect-error: the view declares no such index
    reader.list({ index: 'byName' });
  });

  test('openView is typed by the version it reads', async () => {
    const { productsView } = await import('./views.fixture.js');
    const { openView } = await import('./open-view.js');
    const { catalog } = await import('./retail.fixture.js');
    const productsV2 = defineView({
      name: 'products',
      version: 2,
      catalog,
      initial: { id: '', title: '' },
      key: (event) => event.data.id,
      apply: { 'product/create': (row, { data }) => ({ ...row, id: data.id, title: data.name }) },
    });
    const store = {} as import('@riverlog/core').ViewStore;
    expectTypeOf(openView(productsView, store).get('p1')).resolves.toEqualTypeOf<import('./views.fixture.js').Product | undefined>();
    expectTypeOf(openView(productsV2, store).get('p1')).resolves.toEqualTypeOf<{ id: string; title: string } | undefined>();
  });
});
