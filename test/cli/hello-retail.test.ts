// The Hello Retail demo's log under the `riverlog` binary: `check` passes it, `status` shows its
// readers caught up, and `lambda` runs the photo-assignment service as a Kinesis Lambda function
// over a SQLite log with the same views as the demo's in-process service.
import { join } from 'node:path';
import { compareOffsets, type EventLog, type PositionMap, readEnds } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { runView } from '@riverlog/view-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRows } from '../../examples/hello-retail/dist/rows.js';
import { playDay } from '../../examples/hello-retail/dist/scenario.js';
import { retailViews, startRetail } from '../../examples/hello-retail/dist/services.js';
import { FIXTURES, HELLO_RETAIL, jsonLines, riverlog, start, tempDir } from './support.js';

const tmp = tempDir();
const DEMO_LOG = join(tmp.dir, 'demo.db');
const DEMO_VIEWS = join(tmp.dir, 'demo-views.db');
const CATALOG = `${join(HELLO_RETAIL, 'catalog.js')}#retailCatalog`;
const SERVICES = `${join(HELLO_RETAIL, 'services.js')}#retailViews`;

type Rows = Record<string, unknown[]>;
let demoRows: Rows = {};
let demoRecords = 0;

async function viewRows(store: ReturnType<typeof sqliteViewStore>): Promise<Rows> {
  const rows: Rows = {};
  for (const view of retailViews) rows[view.table] = await allRows(store, view);
  return rows;
}

/** Whether `at` has reached `target` in every partition that has an end. */
function reached(at: PositionMap, target: PositionMap): boolean {
  return Object.entries(target).every(([partition, end]) => {
    const got = at[partition];
    return got !== undefined && compareOffsets(got, end) >= 0;
  });
}

beforeAll(async () => {
  // The demo, in process: the services on a SQLite log, the scripted day played step by step.
  const log = sqliteLog({ path: DEMO_LOG });
  const store = sqliteViewStore({ path: DEMO_VIEWS });
  const checkpoints = sqliteCheckpointStore({ path: DEMO_VIEWS });
  const deadLetters = sqliteDeadLetters({ path: DEMO_VIEWS });
  try {
    const retail = await startRetail({ log, store, checkpoints, deadLetters });
    try {
      await playDay({ log, settle: () => retail.settle({ timeoutMs: 60_000 }) });
    } finally {
      await retail.stop();
    }
    demoRows = await viewRows(store);
    for await (const batch of log.read()) demoRecords += batch.records.length;
    expect(await deadLetters.list()).toEqual([]);
  } finally {
    await Promise.all([store.close(), checkpoints.close(), deadLetters.close()]);
    await log.close();
  }
});
afterAll(() => tmp.remove());

describe("riverlog on the Hello Retail demo's log", () => {
  it('check passes it: every record decodes with the retail catalog', async () => {
    const ran = await riverlog(['check', '--log', `sqlite:${DEMO_LOG}`, '--catalog', CATALOG, '--json']);
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({ records: demoRecords, valid: demoRecords, failed: 0, ok: true, failures: [] });
    expect(Object.keys(report.types).sort()).toEqual(
      expect.arrayContaining(['photo/assigned', 'product/create', 'product/image', 'product/purchase', 'user-info/update-phone']),
    );
  });

  it("status shows the demo's consumer group and every view caught up, with no dead letters", async () => {
    const stores = `sqlite:${DEMO_VIEWS}`;
    const ran = await riverlog([
      'status',
      '--log',
      `sqlite:${DEMO_LOG}`,
      '--store',
      stores,
      '--views',
      SERVICES,
      '--checkpoints',
      stores,
      '--dead-letters',
      stores,
      '--group',
      'photo-assignment',
      '--json',
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report.groups.map((g: { group: string; lag: unknown }) => [g.group, g.lag])).toEqual([['photo-assignment', { records: 0 }]]);
    expect(report.views.map((v: { table: string }) => v.table).sort()).toEqual(retailViews.map((v) => v.table).sort());
    expect(report.views.every((v: { lag: { records: number } }) => v.lag.records === 0)).toBe(true);
    expect(report.deadLetters).toEqual({ total: 0, byGroup: {} });
  });

  it('lambda runs the photo-assignment service as a Kinesis Lambda function and gives the same views as the demo', async () => {
    const path = join(tmp.dir, 'lambda.db');
    const views = join(tmp.dir, 'lambda-views.db');
    const lambdaCheckpoints = join(tmp.dir, 'lambda-checkpoints.db');
    const log: EventLog = sqliteLog({ path });
    const store = sqliteViewStore({ path: views });
    const deadLetters = sqliteDeadLetters({ path: views });
    const positions = sqliteCheckpointStore({ path: lambdaCheckpoints });
    // The other services (the view builders) run here; the photo-assignment function runs under riverlog lambda.
    const runners = retailViews.map((view) => runView(view, { log, store, deadLetters }));
    const lambda = start(
      [
        'lambda',
        `${join(FIXTURES, 'photo-assignment-lambda.mjs')}#handler`,
        '--log',
        `sqlite:${path}`,
        '--checkpoints',
        `sqlite:${lambdaCheckpoints}`,
        '--function-name',
        'photo-assignment',
        '--batch-size',
        '10',
        '--from',
        'earliest',
        '--follow',
        '--json',
      ],
      { env: { RETAIL_LOG: path, RETAIL_STORE: views } },
    );
    // As the demo's settle: the function has handled everything in the log, the views have folded
    // it, and the log did not grow meanwhile (the function appends its assignments).
    const settle = async () => {
      const partitions = (await log.partitions()).map((p) => p.id);
      let before = await readEnds(log, partitions, {});
      for (;;) {
        await until(
          async () => reached(await positions.load('lambda:photo-assignment'), before),
          'the Lambda function to handle the log',
          60_000,
          () => (lambda.stderr() ? new Error(`riverlog lambda: ${lambda.stderr()}`) : undefined),
        );
        await Promise.all(runners.map((runner) => runner.caughtUp({ timeoutMs: 60_000 })));
        const after = await readEnds(log, partitions, before);
        if (JSON.stringify(after) === JSON.stringify(before)) return;
        before = after;
      }
    };
    try {
      await playDay({ log, settle });
      expect(await lambda.stop(), lambda.stderr()).toBe(0);
      const printed = jsonLines(lambda.lines.join('\n')) as { invocation?: { result: string }; summary?: { discarded: number } }[];
      expect(printed.filter((p) => p.invocation).length).toBeGreaterThan(0);
      expect(printed.filter((p) => p.invocation && p.invocation.result !== 'ok')).toEqual([]);
      expect(printed.find((p) => p.summary)?.summary?.discarded).toBe(0);
      await Promise.all(runners.map((runner) => runner.stop()));
      expect(await deadLetters.list()).toEqual([]);
      const rows = await viewRows(store);
      for (const view of retailViews) {
        expect(rows[view.table]?.length, view.table).toBeGreaterThan(0);
        expect(rows[view.table], view.table).toEqual(demoRows[view.table]);
      }
    } finally {
      await lambda.stop().catch(() => undefined);
      await Promise.all(runners.map((runner) => runner.stop()));
      await Promise.all([store.close(), deadLetters.close(), positions.close()]);
      await log.close();
    }
  });
});
