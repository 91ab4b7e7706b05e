import { memoryLog, memoryViewStore } from '@riverlog/core';
import { describe, expect, test } from 'vitest';
import { defineView } from './define-view.js';
import { openView } from './open-view.js';
import { rebuildView } from './rebuild-view.js';
import { catalog, created, imaged } from './retail.fixture.js';
import { runView } from './run-view.js';
import { productsView } from './views.fixture.js';

const productsV2 = defineView({
  name: 'products',
  version: 2,
  catalog,
  initial: { id: '', name: '', category: '', hasImage: false },
  key: (event) => event.data.id,
  apply: {
    'product/create': (product, { data }) => ({ ...product, id: data.id, name: data.name.toUpperCase(), category: data.category }),
    'product/image': (product, _event, row) => (row.exists ? { ...product, hasImage: true } : product),
  },
  indexes: { byName: (product) => [product.name] },
});

describe('rebuildView', () => {
  test('builds the new version beside the old one, then switches reads at once and drops the old table', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes'), created('p2', 'Anorak', 'coats'), imaged('p1', 'https://i/1')]);
    const v1 = runView(productsView, { log, store });
    await v1.caughtUp();
    await v1.stop();
    expect(await store.alias('products')).toBe('products@1');

    const readsV1 = openView(productsView, store);
    const seenDuringBuild: unknown[] = [];
    const result = await rebuildView(productsV2, {
      log,
      store,
      dropPrevious: true,
      batchSize: 1,
      onCommit: () => {
        seenDuringBuild.push(store.alias('products'));
      },
    });
    expect(await Promise.all(seenDuringBuild)).toEqual(seenDuringBuild.map(() => 'products@1'));
    expect(result).toMatchObject({ table: 'products@2', previous: 'products@1', dropped: true });
    expect(await store.alias('products')).toBe('products@2');
    // A reader of version 1 reads version 1's table, never version 2's rows typed as version 1: it is dropped now.
    expect(readsV1.table).toBe('products@1');
    expect(await readsV1.current()).toBe('products@2');
    expect(await readsV1.get('p1')).toBeUndefined();
    const readsV2 = openView(productsV2, store);
    expect((await readsV2.list({ index: 'byName' })).rows.map((r) => r.value)).toEqual([
      { id: 'p2', name: 'ANORAK', category: 'coats', hasImage: false },
      { id: 'p1', name: 'BOOT', category: 'shoes', hasImage: true },
    ]);
    expect(await store.positions('products@1')).toEqual({});
    await expect(rebuildView(productsV2, { log, store })).rejects.toThrow(/already the version reads use/);
  });

  test('runView of a newer version switches the alias once caught up; an older one never switches back', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes')]);
    const v2 = runView(productsV2, { log, store });
    await v2.caughtUp();
    const deadline = Date.now() + 2000;
    while ((await store.alias('products')) !== 'products@2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(await store.alias('products')).toBe('products@2');
    const v1 = runView(productsView, { log, store });
    await v1.caughtUp();
    await v1.stop();
    await v2.stop();
    expect(await store.alias('products')).toBe('products@2');
  });

  test('never switches reads back to an older version: refused before building, alias and tables untouched', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes')]);
    const v2 = runView(productsV2, { log, store, switchAlias: false });
    await v2.caughtUp();
    await v2.stop();
    await store.setAlias('products', 'products@2', undefined);

    await expect(rebuildView(productsView, { log, store, dropPrevious: true })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/products@2.*newer.*setAlias/s),
    });
    expect(await store.alias('products')).toBe('products@2');
    expect(await store.positions('products@1')).toEqual({});
    expect(await store.positions('products@2')).toEqual({ '0': '0' });
    // Rolling back stays an explicit step.
    expect(await store.setAlias('products', 'products@1', 'products@2')).toBe(true);
    expect(await openView(productsView, store).current()).toBe('products@1');
  });

  test('a newer version that took over reads during the rebuild keeps them, and nothing is dropped', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    await log.append([created('p1', 'Boot', 'shoes'), created('p2', 'Clog', 'shoes')]);
    await store.setAlias('products', 'products@0', undefined);
    const rebuilding = rebuildView(productsV2, {
      log,
      store,
      dropPrevious: true,
      batchSize: 1,
      commitSize: 1,
      onCommit: () => void store.alias('products').then((current) => store.setAlias('products', 'products@3', current)),
    });
    await expect(rebuilding).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/products@3.*newer/s) });
    expect(await store.alias('products')).toBe('products@3');
    // The build is kept: products@2 holds the whole log.
    expect(await store.positions('products@2')).toEqual({ '0': '1' });
  });
});
