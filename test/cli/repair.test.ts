// dead-letters and views, run as the real binary against a SQLite log: a bug dead-letters
// three events; after the fix, retry delivers exactly those three and the state is what
// it would have been without the bug.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsumer } from '@riverlog/consumer';
import { createEvent, type Envelope } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { openView, runView } from '@riverlog/view-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from './fixtures/catalog-v2.mjs';
import { defineTally, handlers, tallyView } from './fixtures/tally.mjs';
import { FIXTURES, riverlog, tempDir } from './support.js';

const tmp = tempDir();
const LOG = `sqlite:${join(tmp.dir, 'shop.db')}`;
const STORES = join(tmp.dir, 'stores.db');
const TALLY = join(FIXTURES, 'tally.mjs');
const common = ['--log', LOG, '--catalog', `${join(FIXTURES, 'catalog-v2.mjs')}#catalog`, '--dead-letters', `sqlite:${STORES}`];
const purchases: Envelope[] = [];
const expected: Record<string, number> = {};

beforeAll(async () => {
  for (const [product, times] of [
    ['p1', 2],
    ['p2', 1],
    ['p3', 3],
    ['p4', 2],
  ] as const) {
    for (let i = 0; i < times; i++)
      purchases.push(createEvent(catalog, 'product/purchase', product, { id: product }, { source: 'test/web' }));
    expected[product] = times;
  }
  const log = sqliteLog({ path: join(tmp.dir, 'shop.db'), partitions: 2 });
  await log.append([
    createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'Acme' }, { source: 'test' }),
    ...purchases,
  ]);
  await log.close();
});
afterAll(() => tmp.remove());

describe('dead-letters of a consumer group', () => {
  const tallyFile = join(tmp.dir, 'tally.txt');

  it('retry delivers exactly the three letters the bug made, once fixed; the state equals a run without the bug', async () => {
    writeFileSync(tallyFile, '');
    process.env.TALLY_FILE = tallyFile;
    process.env.TALLY_BUG = '1';
    const log = sqliteLog({ path: join(tmp.dir, 'shop.db') });
    const checkpoints = sqliteCheckpointStore({ path: STORES });
    const deadLetters = sqliteDeadLetters({ path: STORES });
    const consumer = createConsumer({
      log,
      catalog,
      group: 'tally',
      checkpoints,
      deadLetters,
      handlers,
      retry: { attempts: 2, initialMs: 1, maxMs: 2 },
    });
    try {
      await consumer.start();
      await consumer.caughtUp({ timeoutMs: 30_000 });
    } finally {
      await consumer.stop();
      delete process.env.TALLY_BUG;
      await Promise.all([checkpoints.close(), deadLetters.close()]);
      await log.close();
    }
    const p3 = purchases.filter((e) => e.subject === 'p3').map((e) => e.id);

    const listed = await riverlog(['dead-letters', 'list', '--group', 'tally', '--json', ...common]);
    expect(listed.code).toBe(0);
    const letters = JSON.parse(listed.stdout) as { id: string; code: string; position: { partition: string; offset: string } }[];
    expect(letters.map((l) => l.id).sort()).toEqual([...p3].sort());
    expect(letters.every((l) => l.code === 'HANDLER_FAILED')).toBe(true);

    const first = letters[0] as (typeof letters)[number];
    const shown = await riverlog([
      'dead-letters',
      'show',
      `${first.position.partition}:${first.position.offset}`,
      '--group',
      'tally',
      '--json',
      ...common,
    ]);
    const [letter] = JSON.parse(shown.stdout);
    expect(letter.record.event.id).toBe(first.id);
    expect(letter.reason).toContain('bug: cannot tally p3');
    const text = await riverlog([
      'dead-letters',
      'show',
      `${first.position.partition}:${first.position.offset}`,
      '--group',
      'tally',
      ...common,
    ]);
    expect(text.stdout).toContain('HANDLER_FAILED');
    expect(text.stdout).toContain(first.id);

    // Still buggy: the letters stay, exit 1.
    const again = await riverlog(['dead-letters', 'retry', '--group', 'tally', '--handlers', TALLY, '--json', ...common], {
      env: { TALLY_FILE: tallyFile, TALLY_BUG: '1' },
    });
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ retried: 3, delivered: 0, failed: 3 });

    const fixed = await riverlog(['dead-letters', 'retry', '--group', 'tally', '--handlers', TALLY, '--json', ...common], {
      env: { TALLY_FILE: tallyFile, TALLY_BUG: '0' },
    });
    expect(fixed.code).toBe(0);
    const report = JSON.parse(fixed.stdout);
    expect(report).toMatchObject({ group: 'tally', retried: 3, delivered: 3, failed: 0 });
    expect(report.results.map((r: { id: string }) => r.id).sort()).toEqual([...p3].sort());

    const delivered = readFileSync(tallyFile, 'utf8').trim().split('\n');
    expect(delivered.map((line) => line.split(' ')[0]).sort()).toEqual(purchases.map((e) => e.id).sort());
    const counts: Record<string, number> = {};
    for (const line of delivered) counts[line.split(' ')[1] as string] = (counts[line.split(' ')[1] as string] ?? 0) + 1;
    expect(counts).toEqual(expected);
    expect(JSON.parse((await riverlog(['dead-letters', 'list', '--group', 'tally', '--json', ...common])).stdout)).toEqual([]);
  });

  it('purges letters, all or by position', async () => {
    const deadLetters = sqliteDeadLetters({ path: STORES });
    const letter = (offset: string) => ({
      group: 'other',
      record: { position: { partition: '0', offset }, event: undefined, raw: 'x', error: 'not JSON' },
      code: 'DECODE_FAILED',
      reason: 'not JSON',
      attempts: 1,
      at: new Date().toISOString(),
    });
    await deadLetters.send([letter('1'), letter('2'), letter('3')]);
    await deadLetters.close();
    const one = await riverlog(['dead-letters', 'purge', '--group', 'other', '--at', '0:2', '--json', ...common]);
    expect(JSON.parse(one.stdout)).toEqual({ group: 'other', removed: 1 });
    const rest = await riverlog(['dead-letters', 'purge', '--group', 'other', '--json', ...common]);
    expect(JSON.parse(rest.stdout)).toEqual({ group: 'other', removed: 2 });
    const usage = await riverlog(['dead-letters', 'purge', ...common]);
    expect(usage.code).toBe(2);
  });
});

describe('dead-letters of a view, and views', () => {
  const viewArgs = [...common, '--store', `sqlite:${STORES}`, '--views', TALLY];

  it('retry builds the fixed version from the log, switches reads, and removes the letters it folded', async () => {
    const log = sqliteLog({ path: join(tmp.dir, 'shop.db') });
    const store = sqliteViewStore({ path: STORES });
    const deadLetters = sqliteDeadLetters({ path: STORES });
    const runner = runView(defineTally(1, true), { log, store, deadLetters });
    await runner.caughtUp({ timeoutMs: 30_000 });
    await runner.stop();
    expect((await deadLetters.list('tally@1')).map((l) => l.code)).toEqual(['APPLY_FAILED', 'APPLY_FAILED', 'APPLY_FAILED']);
    await Promise.all([store.close(), deadLetters.close()]);
    await log.close();

    const ran = await riverlog(['dead-letters', 'retry', '--view', 'tally', '--json', ...viewArgs]);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ view: 'tally@2', previous: 'tally@1', refolded: 3, failed: 0 });
    const reopened = sqliteViewStore({ path: STORES });
    const rows: Record<string, number> = {};
    for await (const { key, value } of openView(tallyView, reopened).all()) rows[key] = (value as { purchases: number }).purchases;
    expect(rows).toEqual(expected);
    expect(await reopened.alias('tally')).toBe('tally@2');
    await reopened.close();
    expect(JSON.parse((await riverlog(['dead-letters', 'list', '--json', ...common])).stdout)).toEqual([]);
  });

  it('lists versions and aliases, switches reads back, refuses to drop the version reads use, drops another', async () => {
    const listed = await riverlog(['views', 'list', '--json', ...viewArgs]);
    expect(listed.code).toBe(0);
    const { tables, aliases } = JSON.parse(listed.stdout);
    expect(aliases).toEqual({ tally: 'tally@2' });
    expect(tables.map((t: { table: string; reads: boolean; lag: unknown }) => [t.table, t.reads, t.lag])).toEqual([
      ['tally@1', false, { records: 0 }],
      ['tally@2', true, { records: 0 }],
    ]);
    expect(JSON.parse((await riverlog(['views', 'switch', 'tally', '1', '--json', ...viewArgs])).stdout)).toEqual({
      view: 'tally',
      table: 'tally@1',
      previous: 'tally@2',
    });
    const refused = await riverlog(['views', 'drop', 'tally@1', ...viewArgs]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^riverlog: INVALID_OPTION: Reads of tally go to tally@1/);
    expect((await riverlog(['views', 'drop', 'tally@2', ...viewArgs])).code).toBe(0);
    const rebuilt = await riverlog(['views', 'rebuild', 'tally', '--drop-previous', '--json', ...viewArgs]);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ table: 'tally@2', previous: 'tally@1', dropped: true });
    const after = JSON.parse((await riverlog(['views', 'list', '--json', ...viewArgs])).stdout);
    expect(after.tables.map((t: { table: string }) => t.table)).toEqual(['tally@2']);
  });
});
