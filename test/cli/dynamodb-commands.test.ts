// `status` and `views list` run as the real binary with every store on DynamoDB (dynalite),
// named by one `dynamodb://<host:port>?prefix=…` URI that @riverlog/dynamodb's URI functions open.
import { join } from 'node:path';
import { DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createEvent, type Envelope, ulid } from '@riverlog/core';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore, dynamoViewStore } from '@riverlog/dynamodb';
import { sqliteLog } from '@riverlog/sqlite';
import { runView } from '@riverlog/view-builder';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDynamo, dynamoClient, endpoint } from '../dynamodb/support.js';
import { catalog } from './fixtures/catalog-v2.mjs';
import { defineTally, tallyView } from './fixtures/tally.mjs';
import { FIXTURES, riverlog, tempDir } from './support.js';

const tmp = tempDir();
const LOG = `sqlite:${join(tmp.dir, 'shop.db')}`;
const prefix = `cli${ulid().toLowerCase()}.`;
const host = (endpoint ?? '').replace(/^https?:\/\//, '');
const STORE = `dynamodb://${host}?prefix=${prefix}`;
const stores = ['--store', STORE, '--checkpoints', STORE, '--leases', STORE, '--dead-letters', STORE];
/** Purchases per product: p1 three times, p2 twice, p3 once. */
const bought = ['p1', 'p2', 'p1', 'p3', 'p2', 'p1'];

afterAll(async () => {
  tmp.remove();
  if (!endpoint) return;
  const client = dynamoClient();
  for (const name of (await client.send(new ListTablesCommand({}))).TableNames ?? []) {
    if (name.startsWith(prefix)) await client.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
  }
  client.destroy();
});

describeDynamo('riverlog with DynamoDB stores', () => {
  beforeAll(async () => {
    const events: Envelope[] = bought.map((id) => createEvent(catalog, 'product/purchase', id, { id }, { source: 'test/web' }));
    const log = sqliteLog({ path: join(tmp.dir, 'shop.db'), partitions: 2 });
    await log.append(events);
    const client = dynamoClient();
    const store = dynamoViewStore({ client, prefix, createTables: true });
    for (const view of [defineTally(1, false), tallyView]) {
      const runner = runView(view, { log, store });
      await runner.caughtUp({ timeoutMs: 30_000 });
      await runner.stop();
    }
    await store.setAlias('tally', 'tally@2', await store.alias('tally'));
    const state = { client, table: `${prefix}state`, createTables: true };
    const checkpoints = dynamoCheckpointStore(state);
    await checkpoints.save('emailer', { '0': '0' });
    const leases = dynamoLeaseStore(state);
    expect(await leases.take('emailer', '1', 'host-a', undefined)).toMatchObject({ epoch: 1 });
    const deadLetters = dynamoDeadLetters(state);
    await deadLetters.send([
      {
        group: 'emailer',
        record: { position: { partition: '1', offset: '0' }, event: undefined, raw: 'x', error: 'bad' },
        code: 'DECODE_FAILED',
        reason: 'bad',
        attempts: 1,
        at: new Date().toISOString(),
      },
    ]);
    await Promise.all([store.close(), checkpoints.close(), leases.close(), deadLetters.close(), log.close()]);
    client.destroy();
  }, 60_000);

  it('status --json: the view tables the store holds with their lag, the group, its leases and dead letters', async () => {
    const ran = await riverlog(['status', '--log', LOG, ...stores, '--group', 'emailer', '--json']);
    expect(ran.stderr).not.toMatch(/riverlog:/);
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.stdout);
    const heads = Object.fromEntries(report.log.partitions.map((p: { id: string; head: string }) => [p.id, p.head]));
    expect(report.log.partitions.reduce((sum: number, p: { records: number }) => sum + p.records, 0)).toBe(bought.length);
    expect(
      report.views.map(
        (v: { name: string; table: string; alias: string; lag: unknown; partitions: { partition: string; checkpoint: string }[] }) => ({
          name: v.name,
          table: v.table,
          alias: v.alias,
          lag: v.lag,
          checkpoints: Object.fromEntries(v.partitions.map((p) => [p.partition, p.checkpoint])),
        }),
      ),
    ).toEqual([
      { name: 'tally', table: 'tally@1', alias: 'tally@2', lag: { records: 0 }, checkpoints: heads },
      { name: 'tally', table: 'tally@2', alias: 'tally@2', lag: { records: 0 }, checkpoints: heads },
    ]);
    const [group] = report.groups;
    expect(group).toMatchObject({ group: 'emailer', source: 'checkpoints', leases: [{ partition: '1', owner: 'host-a', epoch: 1 }] });
    expect(group.partitions[0]).toEqual({ partition: '0', checkpoint: '0', lag: { records: report.log.partitions[0].records - 1 } });
    expect(report.deadLetters).toEqual({ total: 1, byGroup: { emailer: 1 } });
  });

  it('views list --json: versions from the store, which of them the views module defines, the alias reads use', async () => {
    const ran = await riverlog(['views', 'list', '--store', STORE, '--views', `${join(FIXTURES, 'tally.mjs')}#tallyView`, '--json']);
    expect(ran.code).toBe(0);
    const { tables, aliases } = JSON.parse(ran.stdout);
    expect(aliases).toEqual({ tally: 'tally@2' });
    expect(
      tables.map((t: { table: string; version: number; defined: boolean; stored: boolean; reads: boolean; positions: object }) => [
        t.table,
        t.version,
        t.defined,
        t.stored,
        t.reads,
        Object.keys(t.positions).sort(),
      ]),
    ).toEqual([
      ['tally@1', 1, false, true, false, ['0', '1']],
      ['tally@2', 2, true, true, true, ['0', '1']],
    ]);
  });

  it('a prefix holding no tables lists none; a misspelt URI parameter is a usage error naming it', async () => {
    const empty = await riverlog(['views', 'list', '--store', `dynamodb://${host}?prefix=none${ulid().toLowerCase()}.`, '--json']);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual({ tables: [], aliases: {} });
    const wrong = await riverlog(['views', 'list', '--store', `dynamodb://${host}?prefx=${prefix}`]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(
      /^riverlog: INVALID_OPTION: Invalid DynamoDB store URI .*unknown parameter "prefx" \(did you mean "prefix"\?\)/,
    );
  });
});
