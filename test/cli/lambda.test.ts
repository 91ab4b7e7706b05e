// `riverlog lambda` as the event source mapping: batches, batchItemFailures (retry from the lowest
// failure, the retry batch refilled after it), --max-retries, --bisect, checkpoints, the MSK shape.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteLog } from '@riverlog/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from './fixtures/catalog-v2.mjs';
import { FIXTURES, jsonLines, riverlog, tempDir } from './support.js';

const FLAKY = join(FIXTURES, 'flaky-lambda.mjs');
const tmp = tempDir();
const LOG = `sqlite:${join(tmp.dir, 'one.db')}`;
const subjects = Array.from({ length: 20 }, (_, i) => `s${i}`);
let runs = 0;

beforeAll(async () => {
  // One partition: the batches and their order are known.
  const log = sqliteLog({ path: join(tmp.dir, 'one.db'), partitions: 1 });
  await log.append(subjects.map((s) => createEvent(catalog, 'product/purchase', s, { id: s }, { source: 'test' })));
  await log.close();
});
afterAll(() => tmp.remove());

interface Invocation {
  readonly partition: string;
  readonly records: number;
  readonly first: string;
  readonly last: string;
  readonly retry: number;
  readonly result: 'ok' | 'partial' | 'error';
  readonly failedFrom?: string;
}

/** Runs the flaky function over the log; what each invocation held (subjects), and what riverlog printed. */
async function runFlaky(env: Record<string, string>, args: readonly string[] = []) {
  const file = join(tmp.dir, `invocations-${++runs}.jsonl`);
  writeFileSync(file, '');
  const ran = await riverlog(['lambda', FLAKY, '--log', LOG, '--batch-size', '5', '--json', ...args], {
    env: { FLAKY_FILE: file, ...env },
  });
  const printed = jsonLines(ran.stdout) as { invocation?: Invocation; discarded?: unknown; summary?: Record<string, unknown> }[];
  return {
    code: ran.code,
    stderr: ran.stderr,
    batches: readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as string[]),
    invocations: printed.flatMap((p) => (p.invocation ? [p.invocation] : [])),
    discarded: printed.flatMap((p) => (p.discarded ? [p.discarded] : [])),
    summary: printed.find((p) => p.summary)?.summary,
  };
}

const range = (from: number, to: number) => subjects.slice(from, to + 1);

describe('riverlog lambda', () => {
  it('delivers the log in batches of --batch-size, in order, and exits 0', async () => {
    const run = await runFlaky({});
    expect(run.code, run.stderr).toBe(0);
    expect(run.batches).toEqual([range(0, 4), range(5, 9), range(10, 14), range(15, 19)]);
    expect(run.summary).toMatchObject({ records: 20, invocations: 4, retries: 0, discarded: 0, positions: { '0': '19' } });
  });

  it('a record reported failed once: the next batch starts at the lowest failure and is refilled after it', async () => {
    // s8 and s7 are reported (in that order): the mapping checkpoints before the lowest, s7.
    const run = await runFlaky({ FLAKY_SUBJECTS: 's8,s7', FLAKY_MODE: 'once' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.batches).toEqual([range(0, 4), range(5, 9), range(7, 11), range(12, 16), range(17, 19)]);
    expect(run.invocations.map((i) => [i.first, i.last, i.result, i.retry])).toEqual([
      ['0', '4', 'ok', 0],
      ['5', '9', 'partial', 0],
      ['7', '11', 'ok', 1],
      ['12', '16', 'ok', 0],
      ['17', '19', 'ok', 0],
    ]);
    expect(run.invocations[1]?.failedFrom).toBe('7');
    expect(run.summary).toMatchObject({ records: 20, invocations: 5, retries: 1, discarded: 0 });
  });

  it('--max-retries n: a record that always fails is retried n times, then its batch is discarded and exit is 1', async () => {
    const run = await runFlaky({ FLAKY_SUBJECTS: 's7', FLAKY_MODE: 'always' }, ['--max-retries', '2']);
    expect(run.code).toBe(1);
    expect(run.batches).toEqual([range(0, 4), range(5, 9), range(7, 11), range(7, 11), range(12, 16), range(17, 19)]);
    expect(run.discarded).toEqual([{ records: 5, partition: '0', first: '7', last: '11', reason: 'batchItemFailures' }]);
    expect(run.summary).toMatchObject({ records: 15, retries: 2, discarded: 5, positions: { '0': '19' } });
    // --max-retries 0: no retry at all; only what failed in the batch is discarded.
    const none = await runFlaky({ FLAKY_SUBJECTS: 's7', FLAKY_MODE: 'always' }, ['--max-retries', '0']);
    expect(none.batches).toEqual([range(0, 4), range(5, 9), range(10, 14), range(15, 19)]);
    expect(none.summary).toMatchObject({ records: 17, retries: 0, discarded: 3 });
  });

  it('a function error retries the whole batch; --bisect splits it until only the failing record is retried and discarded', async () => {
    const whole = await runFlaky({ FLAKY_SUBJECTS: 's7', FLAKY_MODE: 'throw' }, ['--max-retries', '1']);
    expect(whole.code).toBe(1);
    expect(whole.batches).toEqual([range(0, 4), range(5, 9), range(5, 9), range(10, 14), range(15, 19)]);
    expect(whole.invocations[1]).toMatchObject({ result: 'error' });
    expect(whole.summary).toMatchObject({ records: 15, discarded: 5 });

    const bisected = await runFlaky({ FLAKY_SUBJECTS: 's7', FLAKY_MODE: 'throw' }, ['--max-retries', '1', '--bisect']);
    expect(bisected.code).toBe(1);
    expect(bisected.batches).toEqual([
      range(0, 4),
      range(5, 9),
      range(5, 7),
      range(5, 6),
      range(7, 7),
      range(7, 7),
      range(8, 9),
      range(10, 14),
      range(15, 19),
    ]);
    expect(bisected.discarded).toEqual([{ records: 1, partition: '0', first: '7', last: '7', reason: 'Error: cannot handle s7' }]);
    expect(bisected.summary).toMatchObject({ records: 19, discarded: 1 });

    // A record that fails only once: bisecting finds it handled on its next delivery, nothing is lost.
    const once = await runFlaky({ FLAKY_SUBJECTS: 's7', FLAKY_MODE: 'throw-once' }, ['--bisect']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.summary).toMatchObject({ records: 20, discarded: 0 });
  });

  it('keeps its position under lambda:<function-name> with --checkpoints, and goes on from there', async () => {
    const store = join(tmp.dir, 'checkpoints.db');
    const args = ['--checkpoints', `sqlite:${store}`, '--function-name', 'tally'];
    const first = await runFlaky({}, args);
    expect(first.code, first.stderr).toBe(0);
    const checkpoints = sqliteCheckpointStore({ path: store });
    expect(await checkpoints.load('lambda:tally')).toEqual({ '0': '19' });
    await checkpoints.close();
    const again = await runFlaky({}, args);
    expect(again.batches).toEqual([]);
    expect(again.summary).toMatchObject({ records: 0, invocations: 0 });
  });

  it('--shape msk: the batch as Lambda hands an MSK topic-partition over, failures named by partition and offset', async () => {
    const run = await runFlaky({ FLAKY_SUBJECTS: 's3', FLAKY_MODE: 'once' }, ['--shape', 'msk']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.batches).toEqual([range(0, 4), range(3, 7), range(8, 12), range(13, 17), range(18, 19)]);
  });
});
