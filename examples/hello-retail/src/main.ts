// Plays a scripted Hello Retail day on riverlog and prints the views.
// Log: RIVERLOG_LOG (e.g. sqlite:/data/retail.db), else a new SQLite file in a temp dir.
// Views, checkpoints and dead letters: RIVERLOG_STORE (sqlite:<path>, dynamodb://<host:port>?prefix=<p>),
// else a SQLite file in a temp dir, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { openView, rebuildView, type ViewEntry } from '@riverlog/view-builder';
import { openLog } from './log-uri.js';
import { type Photographer, photographerRegistryView } from './photographer-registry.js';
import { categoriesView, productsView } from './product-catalog.js';
import { allRows } from './rows.js';
import { people, playDay } from './scenario.js';
import { startRetail } from './services.js';
import { openStores } from './store-uri.js';
import { type Column, formatTable } from './table.js';
import { type Contribution, defineWinnerView, type Score, winners, winnerView } from './winner.js';

const started = performance.now();
const dir = mkdtempSync(join(tmpdir(), 'hello-retail-'));
const uri = process.env.RIVERLOG_LOG ?? `sqlite:${join(dir, 'retail.db')}`;
const nameOf = (id: string | null) => (id === null ? null : (people[id as keyof typeof people]?.name ?? id));

const log = openLog(uri);
const stores = openStores(process.env.RIVERLOG_STORE ?? `sqlite:${join(dir, 'views.db')}`);
const { store, checkpoints, deadLetters } = stores;

console.log('Hello Retail on riverlog');
console.log(`  log:   ${log.uri}`);
console.log(`  views: ${stores.uri}`);
const earlier = await holdsEvents();
if (earlier) console.log('  note:  the log already holds events; the day is played on top of them, and the views fold them all');
console.log('');

const retail = await startRetail({
  log,
  store,
  checkpoints,
  deadLetters,
  onAssigned: (a) => console.log(`         ↳ photo-assignment: ${nameOf(a.photographer)} → ${a.product}  (photo/assigned ${a.eventId})`),
});

try {
  const report = await playDay({
    log,
    settle: () => retail.settle(),
    onStep: (step) => console.log(`  ${step.at}  ${step.says}`),
    onResent: ({ id, first, second }) =>
      console.log(
        `         ↺ sent twice: ${id} stored once (partition ${first.partition}, offset ${first.offset}; the second append returned offset ${second.offset})`,
      ),
    onRefused: (error) => console.log(`         ✗ refused, nothing written: ${error.message}`),
  });
  let records = 0;
  for await (const batch of log.read()) records += batch.records.length;
  console.log(`\nThe script emitted ${report.emitted} events; with the service's assignments the log holds ${records}.`);
  await retail.stop();

  await printViews();

  const letters = await deadLetters.list();
  console.log(`\nDead letters: ${letters.length}${letters.map((l) => `\n  ${l.group} ${l.code}: ${l.reason}`).join('')}`);

  // Rebuild the multi-entity view from history into a new version beside the old one.
  const before = await allRows(store, winnerView, winnerView.table);
  const rebuiltAt = performance.now();
  const rebuilt = await rebuildView(defineWinnerView(2), { log, store, deadLetters });
  const after = await allRows(store, winnerView);
  const same = isDeepStrictEqual(before, after);
  console.log(
    `\nRebuilt ${rebuilt.table} from the start of the log in ${Math.round(performance.now() - rebuiltAt)} ms; reads switched from ${rebuilt.previous} to ${await openView(winnerView, store).current()}.`,
  );
  console.log(`  ${after.length} rows, ${same ? 'identical to' : 'DIFFERENT FROM'} ${rebuilt.previous} ${same ? '✓' : '✗'}`);
  if (!same) process.exitCode = 1;
} finally {
  await retail.stop();
  await stores.close();
  await log.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nDone in ${((performance.now() - started) / 1000).toFixed(2)} s.`);

async function printViews(): Promise<void> {
  const categories = await values(openView(categoriesView, store).all({ index: 'byName' }));
  print('Categories (who created each first)', categories, [
    { title: 'category', cell: (c) => c.category },
    { title: 'created by', cell: (c) => nameOf(c.createdBy) },
    { title: 'at', cell: (c) => c.createdAt.slice(11, 16) },
    { title: 'first product', cell: (c) => c.firstProduct },
  ]);

  const products = await values(openView(productsView, store).all({ index: 'byCategory' }));
  print('Products by category, then name', products, [
    { title: 'category', cell: (p) => p.category },
    { title: 'name', cell: (p) => p.name },
    { title: 'brand', cell: (p) => p.brand },
    { title: 'id', cell: (p) => p.id },
    { title: 'created by', cell: (p) => nameOf(p.creator) },
    { title: 'image', cell: (p) => p.image },
  ]);

  const photographers = (await values(openView(photographerRegistryView, store).all({ index: 'photographers' }))) as Photographer[];
  print('Photographer registry', photographers, [
    { title: 'photographer', cell: (p) => nameOf(p.id) },
    { title: 'phone', cell: (p) => p.phone },
    { title: 'registrations', cell: (p) => p.registrations, right: true },
    { title: 'completed', cell: (p) => p.completed, right: true },
    { title: 'current assignment', cell: (p) => p.assignments.join(', ') },
  ]);

  const contributions = openView(winnerView, store);
  const byProduct = (await values(contributions.all({ index: 'products' }))) as Contribution[];
  print('Contributions per product', byProduct, [
    { title: 'product', cell: (c) => c.id },
    { title: 'purchases', cell: (c) => c.purchases, right: true },
    { title: 'creator', cell: (c) => nameOf(c.creator) },
    { title: 'points', cell: (c) => c.creatorPoints, right: true },
    { title: 'photographer', cell: (c) => nameOf(c.photographer) },
    { title: 'points', cell: (c) => c.photographerPoints, right: true },
  ]);
  const scores = (await values(contributions.all({ index: 'people' }))) as Score[];
  print('Scores per person', scores, [
    { title: 'person', cell: (s) => s.name ?? s.id },
    { title: 'as creator', cell: (s) => s.creatorPoints, right: true },
    { title: 'as photographer', cell: (s) => s.photographerPoints, right: true },
  ]);
  const top = await winners(store);
  console.log('\nWinners');
  console.log(`  top creator:      ${top.creator ? `${top.creator.name ?? top.creator.id} (${top.creator.creatorPoints} points)` : '—'}`);
  console.log(
    `  top photographer: ${top.photographer ? `${top.photographer.name ?? top.photographer.id} (${top.photographer.photographerPoints} points)` : '—'}`,
  );
}

/** Whether the log holds any event yet: reads up to its first record. */
async function holdsEvents(): Promise<boolean> {
  for await (const batch of log.read({ batchSize: 1 })) if (batch.records.length > 0) return true;
  return false;
}

/** The values of every row a reader lists, page after page. */
async function values<R>(rows: AsyncIterable<ViewEntry<R>>): Promise<R[]> {
  const out: R[] = [];
  for await (const { value } of rows) out.push(value);
  return out;
}

function print<R>(title: string, rows: readonly R[], columns: readonly Column<R>[]): void {
  console.log(`\n${formatTable(title, rows, columns)}`);
}
