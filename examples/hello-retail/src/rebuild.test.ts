import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog, ViewStore } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteViewStore } from '@riverlog/sqlite';
import { type AnyView, rebuildView } from '@riverlog/view-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLog } from './log-uri.js';
import { definePhotographerRegistryView } from './photographer-registry.js';
import { defineCategoriesView, defineProductsView } from './product-catalog.js';
import { playDay } from './scenario.js';
import { startRetail } from './services.js';
import { buildViews, decodeAll, dumpViews, recordsByPartition } from './testing/harness.js';
import { type ReferenceViews, referenceViews } from './testing/reference.js';
import { defineWinnerView } from './winner.js';

describe('rebuilding the views from history (SQLite log and stores)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hello-retail-rebuild-'));
  let log: EventLog;
  let store: ViewStore;
  let live: ReferenceViews;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    log = openLog(`sqlite:${join(dir, 'retail.db')}`);
    const stores = { path: join(dir, 'views.db') };
    store = sqliteViewStore(stores);
    const checkpoints = sqliteCheckpointStore(stores);
    const deadLetters = sqliteDeadLetters(stores);
    closers.push(
      () => store.close(),
      () => checkpoints.close(),
      () => deadLetters.close(),
      () => log.close(),
    );
    const retail = await startRetail({ log, store, checkpoints, deadLetters });
    try {
      await playDay({ log, settle: () => retail.settle() });
    } finally {
      await retail.stop();
    }
    live = await dumpViews(store);
    expect(await deadLetters.list()).toEqual([]);
  });

  afterAll(async () => {
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the live views match the reference model of the log', async () => {
    const events = decodeAll([...(await recordsByPartition(log)).values()].flat());
    expect(live).toEqual(referenceViews(events));
    expect(Object.keys(live.contributions)).toContain('person:ann');
  });

  it('version 2 of every view, built beside version 1, swaps in with the same rows', async () => {
    const next: AnyView[] = [defineCategoriesView(2), defineProductsView(2), definePhotographerRegistryView(2), defineWinnerView(2)];
    const results = [];
    for (const view of next) results.push(await rebuildView(view, { log, store }));
    expect(results.map((r) => [r.previous, r.table])).toEqual([
      ['categories@1', 'categories@2'],
      ['products@1', 'products@2'],
      ['photographers@1', 'photographers@2'],
      ['contributions@1', 'contributions@2'],
    ]);
    expect(await dumpViews(store)).toEqual(live);
    // Version 1 is still there, untouched, until someone drops it.
    expect(
      await dumpViews(store, {
        categories: 'categories@1',
        products: 'products@1',
        registry: 'photographers@1',
        contributions: 'contributions@1',
      }),
    ).toEqual(live);
  });

  it('a brand-new store built from the start of the log holds the same views', async () => {
    const fresh = sqliteViewStore({ path: join(dir, 'fresh-views.db') });
    try {
      await buildViews(log, fresh, { batchSize: 7 });
      expect(await dumpViews(fresh)).toEqual(live);
    } finally {
      await fresh.close();
    }
  });
});
