// Shared set-up of the example's tests: play the day on memory engines,
// read a log back, build views and dump them as plain objects.
import {
  type Envelope,
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
import type { ViewRunSummary } from '@riverlog/testing';
import { type AnyView, runView } from '@riverlog/view-builder';
import { expect } from 'vitest';
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
  /** Every envelope of the day (the services' included), each id once, in the order the log took them. */
  readonly appended: readonly Envelope[];
}

/** Plays the scripted day with every service running, on memory engines. */
export async function playOnMemory(partitions = 4): Promise<PlayedDay> {
  const log = memoryLog({ partitions });
  const store = memoryViewStore();
  const deadLetters = memoryDeadLetters();
  const assignments: Assignment[] = [];
  const appended: Envelope[] = [];
  const retail = await startRetail({
    log: recordingAppends(log, appended),
    store,
    checkpoints: memoryCheckpointStore(),
    deadLetters,
    onAssigned: (a) => assignments.push(a),
  });
  try {
    const report = await playDay({ log: recordingAppends(log, appended), settle: () => retail.settle() });
    await retail.settle();
    return { log, store, report, assignments, deadLetters, appended };
  } finally {
    await retail.stop();
  }
}

/**
 * The same log, noting each envelope it is given in `appended` (an id once)
 * as the append is called: the memory log places them in call order, so this
 * is the order across partitions that no read gives back.
 */
function recordingAppends(log: EventLog, appended: Envelope[]): EventLog {
  const ids = new Set<string>();
  return {
    uri: log.uri,
    maxEventBytes: log.maxEventBytes,
    read: (options) => log.read(options),
    partitions: () => log.partitions(),
    close: () => log.close(),
    append(events) {
      for (const event of events) {
        if (ids.has(event.id)) continue;
        ids.add(event.id);
        appended.push(event);
      }
      return log.append(events);
    },
  };
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

/**
 * The day's envelopes in the order the log took them, for view specs; throws
 * unless each partition's records are in that order too (a spec keeps the
 * order it is given within each subject, as the log did).
 */
export async function dayInLogOrder(day: PlayedDay): Promise<readonly Envelope[]> {
  const order = new Map(day.appended.map((event, i) => [event.id, i]));
  for (const [partition, records] of await recordsByPartition(day.log)) {
    const at = records.map((record) => order.get((record.event as Envelope).id) ?? -1);
    if (at.includes(-1) || at.some((n, i) => i > 0 && n < (at[i - 1] as number))) {
      throw new Error(`partition ${partition} of the played day is not in the order its events were appended: ${at.join(', ')}`);
    }
  }
  const stored = [...(await recordsByPartition(day.log)).values()].flat().length;
  if (stored !== day.appended.length) throw new Error(`the log holds ${stored} records, ${day.appended.length} were appended`);
  return day.appended;
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

/**
 * Checks that a viewSpec folded its events every way: in order, with every
 * event delivered twice (copies of the events the view folds left out as
 * duplicates), with the partitions interleaved two ways and in `shuffles` seeded
 * random orders — so a spec's agreement is not vacuous.
 */
export function expectRanEveryWay(result: { readonly runs: readonly ViewRunSummary[] }, events: number, shuffles: number): void {
  const names = result.runs.map((run) => run.name);
  expect(names[0]).toBe('each event once, in the order given');
  const twice = result.runs.find((run) => run.name === 'every event delivered twice');
  expect(twice?.deliveries).toBe(3 * events);
  expect(twice?.duplicates).toBeGreaterThan(0);
  expect(names.filter((name) => name.startsWith('partitions interleaved differently'))).toHaveLength(2);
  expect(names.filter((name) => name.startsWith('partitions shuffled'))).toHaveLength(shuffles);
}
