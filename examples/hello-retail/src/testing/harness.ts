// Shared set-up of the example's tests: play the day on memory engines,
// read a log back, build views and dump them as plain objects.
import {
  type EventLog,
  type LogRecord,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLog,
  memoryViewStore,
  type PositionMap,
  readEnds,
  type ViewStore,
} from '@riverlog/core';
import { type AnyView, runView } from '@riverlog/view-builder';
import { type RetailEvent, retailCatalog } from '../catalog.js';
import type { Assignment } from '../photo-assignment.js';
import { photographerRegistryView } from '../photographer-registry.js';
import { categoriesView, productsView } from '../product-catalog.js';
import { allRows } from '../rows.js';
import { type DayReport, playDay } from '../scenario.js';
import { startRetail } from '../services.js';
import { winnerView } from '../winner.js';
import type { ReferenceViews } from './reference.js';

export { until } from '@riverlog/testing';

export interface PlayedDay {
  readonly log: EventLog;
  readonly store: ViewStore;
  readonly report: DayReport;
  readonly assignments: Assignment[];
  readonly deadLetters: ReturnType<typeof memoryDeadLetters>;
}

/** Plays the scripted day with every service running, on memory engines. */
export async function playOnMemory(partitions = 4): Promise<PlayedDay> {
  const log = memoryLog({ partitions });
  const store = memoryViewStore();
  const deadLetters = memoryDeadLetters();
  const assignments: Assignment[] = [];
  const retail = await startRetail({
    log,
    store,
    checkpoints: memoryCheckpointStore(),
    deadLetters,
    onAssigned: (a) => assignments.push(a),
  });
  try {
    const report = await playDay({ log, settle: () => retail.settle() });
    await retail.settle();
    return { log, store, report, assignments, deadLetters };
  } finally {
    await retail.stop();
  }
}

/** Every record of a log, per partition, in offset order. */
export async function recordsByPartition(log: EventLog): Promise<Map<string, LogRecord[]>> {
  const byPartition = new Map<string, LogRecord[]>();
  for await (const batch of log.read()) {
    for (const record of batch.records) {
      const list = byPartition.get(record.position.partition) ?? [];
      list.push(record);
      byPartition.set(record.position.partition, list);
    }
  }
  return byPartition;
}

/** Where each partition of `log` ends now: the offset of its last record (partitions with none are missing). */
export async function logEnds(log: EventLog): Promise<PositionMap> {
  return readEnds(
    log,
    (await log.partitions()).map((partition) => partition.id),
    {},
  );
}

/** Decodes records with the retail catalog; throws on any that does not decode. */
export function decodeAll(records: readonly LogRecord[]): RetailEvent[] {
  return records.map((record) => {
    const decoded = retailCatalog.decode(record.event, record.position);
    if (decoded._tag === 'Left') throw decoded.left;
    return decoded.right;
  });
}

/** The four views of the example. */
export const views = { categories: categoriesView, products: productsView, registry: photographerRegistryView, contributions: winnerView };

/** Builds every view from the start of `log` into `store`, until caught up, then stops the builders. */
export async function buildViews(log: EventLog, store: ViewStore, options: { batchSize?: number } = {}): Promise<void> {
  const runners = Object.values(views).map((view) => runView(view as AnyView, { log, store, ...options }));
  try {
    await Promise.all(runners.map((runner) => runner.caughtUp()));
  } finally {
    await Promise.all(runners.map((runner) => runner.stop()));
  }
}

/** Every row of every view (through the alias, or of the given tables), as `{ key: row }` objects sorted by key. */
export async function dumpViews(store: ViewStore, tables: Partial<Record<keyof typeof views, string>> = {}): Promise<ReferenceViews> {
  const dump = async (view: AnyView, table: string | undefined) =>
    Object.fromEntries((await allRows(store, view, table)).map((row) => [row.key, row.value]));
  return {
    categories: await dump(views.categories, tables.categories),
    products: await dump(views.products, tables.products),
    registry: await dump(views.registry, tables.registry),
    contributions: await dump(views.contributions, tables.contributions),
  } as ReferenceViews;
}

/** A small seeded random number generator (mulberry32), so a failing interleaving can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
