import { memoryViewStore, type StoredEvent } from '@riverlog/core';
import { type AnyView, openView, type RowOf, runView, type SkippedRecord, type View } from '@riverlog/view-builder';
import {
  deliveredTwice,
  inOrder,
  partitionsLatestFirst,
  partitionsOf,
  partitionsReversed,
  sameOrder,
  shuffled,
  withOneAgain,
} from './deliveries.js';
import { type AnyCatalog, type GivenEvent, toItems } from './given.js';
import type { Delivery } from './scripted-log.js';
import { scriptedLog } from './scripted-log.js';
import { checkSpecOptions } from './spec-options.js';
import { describeDeliveries, rowDiff, SpecAssertionError, show } from './spec-report.js';

/** The catalog of a view. */
export type CatalogOfView<V> = V extends View<infer C, infer _S, infer _T, infer _I> ? C : never;

/** Rows by key, as a spec reads them back from the store (JSON values, as every store keeps them). */
export type Rows<S> = Readonly<Record<string, S>>;

/** A check of the rows: return `false` or throw (e.g. `expect(...)` inside) to fail; anything else passes. An async check is awaited. */
export type RowsCheck<S> = (rows: Rows<S>) => unknown;

/** Options of {@link viewSpec}. */
export interface ViewSpecOptions {
  /**
   * The partition of an event given without one. Default: its subject, so
   * every subject is a partition of its own — the strictest assumption, since
   * on a real log any two subjects may sit in different partitions.
   */
  readonly partitionBy?: (event: StoredEvent) => string;
  /** Run the fold with every event delivered twice, and require the same rows. Default true. */
  readonly duplicates?: boolean;
  /**
   * Run the fold with the partitions interleaved differently (whole
   * partitions, the last given first), and require the same rows. Default
   * true; turn it off only for a view that is meant to depend on the order
   * of events across partitions.
   */
  readonly interleave?: boolean;
  /** More runs, each a seeded random interleaving of the partitions (each partition in order). Default 0. */
  readonly shuffles?: number;
  /** The seed of the first shuffle (the next ones count up from it). Default 1. */
  readonly seed?: number;
  /** Do not fail when the view skips an event (`APPLY_FAILED`, `DECODE_FAILED`). Default false. */
  readonly allowSkips?: boolean;
  /** How long one run may take to fold everything. Default 10,000 ms. */
  readonly timeoutMs?: number;
}

/** One run of a scenario: how the events were delivered. */
export interface ViewRunSummary {
  readonly name: string;
  readonly deliveries: number;
  /** Records `runView` left out because their id was folded already. */
  readonly duplicates: number;
}

/** What a scenario's `then…` resolves with once every run agreed. */
export interface ViewScenarioResult<S> {
  /** The rows, by key (the same in every run). */
  readonly rows: Rows<S>;
  readonly runs: readonly ViewRunSummary[];
  /** Records skipped in the in-order run (only with `allowSkips`). */
  readonly skipped: readonly SkippedRecord[];
}

/** Given events, folded by the view of a {@link viewSpec}: say what rows to expect. */
export interface ViewScenario<S> {
  /**
   * Folds the events (in order, delivered twice, interleaved) and checks
   * that the rows are exactly `expected` (no other rows), or that `expected`
   * (a check function) passes; every run must give the same rows.
   *
   * @example
   * await viewSpec(purchases).given(created, bought, bought2).thenRows({ p1: { count: 2 } });
   * await viewSpec(purchases).given(created).thenRows((rows) => Object.keys(rows).length === 1);
   */
  thenRows(expected: Rows<S> | RowsCheck<S>): Promise<ViewScenarioResult<S>>;
  /**
   * Like {@link thenRows} for one row: equal to `expected`, or passing it
   * (a check of the row, `undefined` when there is none).
   *
   * @example
   * await viewSpec(purchases).given(created, bought).thenRow('p1', { count: 1 });
   * await viewSpec(purchases).given(created).thenRow('p2', (row) => row === undefined);
   */
  thenRow(key: string, expected: S | ((row: S | undefined) => unknown)): Promise<ViewScenarioResult<S>>;
  /** Folds the events every way, checks the runs agree, and resolves with the rows, for your own assertions. */
  rows(): Promise<Rows<S>>;
}

/** A view under test: give it events. */
export interface ViewSpecBuilder<V extends AnyView> {
  /**
   * The events the view folds, in order: envelopes, `{ event, partition }`,
   * or `{ type, subject, data, …meta }` made with the view's catalog.
   *
   * @example
   * viewSpec(products).given(
   *   { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } },
   *   { type: 'product/image', subject: 'p1', data: { id: 'p1', image: 'https://img/p1.jpg' } },
   * );
   */
  given(...events: readonly (GivenEvent<CatalogOfView<V>> | readonly GivenEvent<CatalogOfView<V>>[])[]): ViewScenario<RowOf<V>>;
}

interface Folded {
  readonly rows: Record<string, unknown>;
  readonly skipped: SkippedRecord[];
  readonly duplicates: number;
}

interface Run {
  readonly name: string;
  readonly deliveries: readonly Delivery[];
  /** Commit after every record: each delivery again meets the stored rows and id window, as after a restart. */
  readonly commitEach?: boolean;
}

const IN_ORDER = 'each event once, in the order given';
const TWICE = 'every event delivered twice';
const INTERLEAVED = 'partitions interleaved differently: whole partitions, the first given last';
const INTERLEAVED_LATEST = 'partitions interleaved differently: whole partitions, the one given last first';

/**
 * A given/when/then specification of a view: given events, when folded by
 * `view` through the real `runView` (on a log that delivers exactly the
 * given events and a memory view store), then these rows. Each scenario is
 * folded three ways, and every way must give the same rows:
 *
 * 1. each event once, in the order given;
 * 2. every event delivered twice — again at the same position and appended
 *    anew with the same id (the id window must absorb it), committing after
 *    every record so each second delivery meets the stored rows;
 * 3. the partitions interleaved differently (each partition still in order).
 *
 * So a view is checked for idempotence and for independence from the order
 * of partitions without writing those tests. A failure is a
 * {@link SpecAssertionError} naming the run, its event sequence and the row
 * diff. Works under any test runner (it only throws).
 *
 * @example
 * const spec = viewSpec(winnerView);
 * await spec
 *   .given(
 *     { type: 'product/create', subject: 'p1', data: product('p1'), source: merchantSource('ann', 'Ann') },
 *     { type: 'product/purchase', subject: 'p1', data: { id: 'p1' } },
 *   )
 *   .thenRow('person:ann', (row) => row?.kind === 'person' && row.creatorPoints === 1);
 */
export function viewSpec<V extends AnyView>(view: V, options: ViewSpecOptions = {}): ViewSpecBuilder<V> {
  checkSpecOptions('viewSpec', options, ['partitionBy', 'duplicates', 'interleave', 'shuffles', 'seed', 'allowSkips', 'timeoutMs'], {
    shuffles: 0,
    seed: 0,
    timeoutMs: 1,
  });
  const v = view as View;
  const name = `viewSpec(${v.table})`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const partitionBy = options.partitionBy ?? ((event: StoredEvent) => event.subject);

  return {
    given(...events) {
      const items = toItems(v.catalog as AnyCatalog, events.flat() as unknown[]);
      const script = inOrder(items, (item) => item.partition ?? partitionBy(item.event));
      const partitions = partitionsOf(script);
      const runs = plannedRuns(script, options);

      async function fold(run: Run): Promise<Folded> {
        const log = scriptedLog(run.deliveries, partitions);
        const store = memoryViewStore();
        const skipped: SkippedRecord[] = [];
        let duplicates = 0;
        const runner = runView(view, {
          log,
          store,
          switchAlias: false,
          onSkip: (s) => {
            skipped.push(s);
          },
          onCommit: (info) => {
            duplicates += info.duplicates;
          },
          ...(run.commitEach ? { commitSize: 1 } : {}),
        });
        runner.done.catch(() => undefined);
        try {
          await runner.caughtUp({ timeoutMs });
        } catch (error) {
          throw failure(run, `folding stopped: ${(error as Error)?.message ?? String(error)}`, []);
        } finally {
          await runner.stop();
        }
        const rows: Record<string, unknown> = {};
        for await (const { key, value } of openView(view, store).all()) rows[key] = value;
        if (skipped.length > 0 && !options.allowSkips) {
          throw failure(
            run,
            `the view skipped ${skipped.length === 1 ? 'an event' : `${skipped.length} events`} (pass allowSkips to accept it):`,
            skipped.map((s) => `  ${s.code} at ${s.record.position.partition}@${s.record.position.offset}: ${s.reason}`),
          );
        }
        return { rows, skipped, duplicates };
      }

      function failure(run: Run, what: string, details: readonly string[], compared?: { actual: unknown; expected: unknown }) {
        return new SpecAssertionError({
          run: run.name,
          message: [
            `${name}: ${what}`,
            ...details,
            `Deliveries of the run "${run.name}" (${run.deliveries.length}):`,
            ...describeDeliveries(run.deliveries),
          ].join('\n'),
          ...(compared ?? {}),
        });
      }

      /** Which single events, delivered again, change the rows: the smallest sequences that break idempotence. */
      async function culprits(first: Record<string, unknown>): Promise<string[]> {
        const lines: string[] = [];
        for (let index = 0; index < script.length && index < 50 && lines.length < 6; index++) {
          for (const how of ['new-position', 'same-position'] as const) {
            const deliveries = withOneAgain(script, index, how);
            const again = deliveries.find((d) => d.again !== undefined) as Delivery;
            const folded = await fold({ name: `event #${again.number} again`, deliveries, commitEach: true }).catch(() => undefined);
            const diff = folded ? rowDiff(first, folded.rows) : [];
            if (diff.length === 0) continue;
            const where =
              how === 'new-position' ? `appended anew (same id) at ${again.partition}@${again.offset}` : 'again at its position';
            lines.push(`  Event #${again.number} ${again.event.type} ${JSON.stringify(again.event.subject)} alone, ${where}, changes:`);
            lines.push(...diff.map((line) => `  ${line}`));
            break;
          }
        }
        return lines;
      }

      /** Folds the other runs and requires each to give the rows of the first (folded already, or now). */
      async function agreed(folded?: Folded): Promise<{ first: Folded; summaries: ViewRunSummary[] }> {
        const [firstRun, ...others] = runs as [Run, ...Run[]];
        const first = folded ?? (await fold(firstRun));
        const summaries: ViewRunSummary[] = [{ name: firstRun.name, deliveries: firstRun.deliveries.length, duplicates: first.duplicates }];
        for (const run of others) {
          const folded = await fold(run);
          summaries.push({ name: run.name, deliveries: run.deliveries.length, duplicates: folded.duplicates });
          const diff = rowDiff(first.rows, folded.rows);
          if (diff.length === 0) continue;
          const compared = { expected: first.rows, actual: folded.rows };
          if (run.name === TWICE) {
            const hint =
              v.idWindow === 0
                ? [
                    '  The view has idWindow 0: nothing but the view itself absorbs an event appended twice. Keep the id window on, or make apply idempotent.',
                  ]
                : [];
            throw failure(
              run,
              `the view is not idempotent: with ${TWICE} (again at the same position, and appended anew with the same id) its rows differ from ${IN_ORDER}.`,
              ['Rows, each event once → every event delivered twice:', ...diff, ...(await culprits(first.rows)), ...hint],
              compared,
            );
          }
          throw failure(
            run,
            `the view depends on the order of partitions: with ${run.name} (each partition still in order) its rows differ from ${IN_ORDER}.`,
            [`Rows, ${IN_ORDER} → ${run.name}:`, ...diff],
            compared,
          );
        }
        return { first, summaries };
      }

      async function then(
        check: (rows: Record<string, unknown>) => Promise<string[] | undefined> | string[] | undefined,
        compared?: (rows: Record<string, unknown>) => { actual: unknown; expected: unknown },
      ) {
        const firstRun = runs[0] as Run;
        // The expectation first, on the plainest run: a wrong expectation is reported as such, not as an order problem.
        const plain = await fold(firstRun);
        const problems = await check(plain.rows);
        if (problems) throw failure(firstRun, 'the rows are not as expected.', problems, compared?.(plain.rows));
        const { first, summaries } = await agreed(plain);
        return { rows: first.rows as Rows<RowOf<V>>, runs: summaries, skipped: first.skipped };
      }

      return {
        thenRows(expected) {
          if (typeof expected === 'function') return then((rows) => runCheck(() => expected(rows as Rows<RowOf<V>>), rows));
          const wanted = normalised(expected);
          return then(
            (rows) => {
              const diff = rowDiff(wanted, rows);
              return diff.length === 0 ? undefined : ['Rows, expected → folded:', ...diff];
            },
            (rows) => ({ expected: wanted, actual: rows }),
          );
        },
        thenRow(key, expected) {
          if (typeof expected === 'function') {
            const check = expected as (row: RowOf<V> | undefined) => unknown;
            return then((rows) => runCheck(() => check(rows[key] as RowOf<V> | undefined), { [key]: rows[key] }, key));
          }
          const wanted = normalised({ [key]: expected });
          return then(
            (rows) => {
              const diff = rowDiff(wanted, key in rows ? { [key]: rows[key] } : {});
              return diff.length === 0 ? undefined : ['Row, expected → folded:', ...diff];
            },
            (rows) => ({ expected: wanted[key], actual: rows[key] }),
          );
        },
        async rows() {
          return (await agreed()).first.rows as Rows<RowOf<V>>;
        },
      };
    },
  };
}

/** The runs of a scenario: in order first, then the ones that must agree with it. */
function plannedRuns(script: readonly Delivery[], options: ViewSpecOptions): Run[] {
  const runs: Run[] = [{ name: IN_ORDER, deliveries: script }];
  if (options.duplicates ?? true) runs.push({ name: TWICE, deliveries: deliveredTwice(script), commitEach: true });
  if (options.interleave ?? true) {
    // Two orders: one puts the partition of the first event last (catches "first wins"), the other puts the
    // partition of the last event first (catches "last wins").
    const reversed = partitionsReversed(script);
    if (!sameOrder(reversed, script)) runs.push({ name: INTERLEAVED, deliveries: reversed });
    const latestFirst = partitionsLatestFirst(script);
    if (!sameOrder(latestFirst, script) && !sameOrder(latestFirst, reversed))
      runs.push({ name: INTERLEAVED_LATEST, deliveries: latestFirst });
    const seed = options.seed ?? 1;
    for (let i = 0; i < (options.shuffles ?? 0); i++) {
      const deliveries = shuffled(script, seed + i);
      runs.push({ name: `partitions shuffled with seed ${seed + i}`, deliveries });
    }
  }
  return runs;
}

/** Expected rows as a store gives them back: JSON (a field set to `undefined` is no field). */
function normalised<S>(rows: Rows<S>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(rows)) as Record<string, unknown>;
}

/**
 * Runs a user's check: `false` or a throw is a failure, described with the rows it saw. An async check
 * is awaited: its promise would otherwise pass whatever it settles to.
 */
async function runCheck(check: () => unknown, rows: Readonly<Record<string, unknown>>, key?: string): Promise<string[] | undefined> {
  let outcome: unknown;
  try {
    outcome = await check();
  } catch (error) {
    return [
      `The check threw: ${(error as Error)?.message ?? String(error)}`,
      `${key === undefined ? 'Rows' : 'Row'}: ${show(rows, 2_000)}`,
    ];
  }
  if (outcome === false) return [`The check returned false.`, `${key === undefined ? 'Rows' : 'Row'}: ${show(rows, 2_000)}`];
  return undefined;
}
