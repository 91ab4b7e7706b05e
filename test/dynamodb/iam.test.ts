// Least privilege: each store, driven through every operation it has (the
// rare paths too: a LEASE_LOST, a take whose answer was lost, a listing of
// every group), calls exactly the DynamoDB actions its statement in the
// package README's policy document allows — no more (it would be refused in
// production) and no fewer (the README would grant too much).
import { readFileSync } from 'node:fs';
import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type Lease, type RowWrite, ulid } from '@riverlog/core';
import {
  aliasTableDefinition,
  dynamoCheckpointStore,
  dynamoDeadLetters,
  dynamoLeaseStore,
  dynamoViewStore,
  stateTableDefinition,
  viewTableDefinition,
} from '@riverlog/dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

const README = new URL('../../packages/dynamodb/README.md', import.meta.url);

/** Sid -> actions, from the README's JSON policy document(s). */
function documentedActions(): Map<string, string[]> {
  const text = readFileSync(README, 'utf8');
  const out = new Map<string, string[]>();
  for (const [, block] of text.matchAll(/```json\n([\s\S]*?)```/g)) {
    const policy = JSON.parse(block as string) as { Statement?: { Sid: string; Action: string | string[] }[] };
    for (const statement of policy.Statement ?? []) {
      out.set(statement.Sid, [statement.Action].flat().sort());
    }
  }
  return out;
}

/** A client on the engine that records the action of every call it sends (SDK middleware). */
function recordingClient(): { client: DynamoDBClient; actions: Set<string> } {
  const client = dynamoClient();
  const actions = new Set<string>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      actions.add(`dynamodb:${String(context.commandName).replace(/Command$/, '')}`);
      return next(args);
    },
    { step: 'initialize', name: 'recordRiverlogActions' },
  );
  return { client, actions };
}

/** `client` whose first matching write is applied and then answered with a 500 (the answer lost). */
function losingOneAnswer(client: DynamoDBClient, lose: (command: object) => boolean): DynamoDBClient {
  let lost = false;
  return Object.assign(Object.create(client) as DynamoDBClient, {
    send: async (command: object) => {
      const out = await client.send(command as never);
      if (!lost && lose(command)) {
        lost = true;
        throw Object.assign(new Error('answer lost (test)'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
      }
      return out;
    },
  });
}

describeDynamo('least privilege: the DynamoDB actions each store calls are exactly the documented ones', () => {
  const admin = dynamoClient();
  const table = uniqueTable('iam');
  const documented = documentedActions();
  const retry = { initialMs: 1, maxMs: 2 };

  beforeAll(async () => {
    await admin.send(new CreateTableCommand(stateTableDefinition(table)));
  });
  afterAll(async () => {
    await admin.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    admin.destroy();
  });

  it('the README documents a statement per store', () => {
    for (const sid of [
      'RiverlogCheckpoints',
      'RiverlogLeases',
      'RiverlogDeadLetters',
      'RiverlogViews',
      'RiverlogListViewTables',
      'RiverlogCreateTablesInDevelopment',
    ]) {
      expect(documented.get(sid), sid).toBeDefined();
    }
  });

  it('dynamoCheckpointStore', async () => {
    const { client, actions } = recordingClient();
    const store = dynamoCheckpointStore({ client, table });
    await store.load('g');
    await store.save('g', { '0': '1' });
    await store.save('g', { '0': '2', '1': '5' }, { '0': 2, '1': 2 });
    await expect(store.save('g', { '0': '3' }, { '0': 1 })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await store.close();
    expect([...actions].sort()).toEqual(documented.get('RiverlogCheckpoints'));
  });

  it('dynamoLeaseStore', async () => {
    const { client, actions } = recordingClient();
    const store = dynamoLeaseStore({ client: losingOneAnswer(client, (c) => c instanceof PutItemCommand), table, retry });
    await store.list('g');
    const mine = (await store.take('g', '0', 'a', undefined)) as Lease; // answer lost: read back
    expect(mine).toMatchObject({ owner: 'a', epoch: 1 });
    const renewed = (await store.renew(mine)) as Lease;
    const stolen = (await store.take('g', '0', 'b', renewed)) as Lease;
    await store.release(stolen);
    const [released] = await store.list('g');
    await store.remove(released as Lease);
    await store.close();
    expect([...actions].sort()).toEqual(documented.get('RiverlogLeases'));
  });

  it('dynamoDeadLetters', async () => {
    const { client, actions } = recordingClient();
    const sink = dynamoDeadLetters({ client, table });
    const letter = {
      group: 'g',
      record: { position: { partition: '0', offset: '1' }, event: { id: 'x' } },
      code: 'HANDLER_FAILED',
      reason: 'failed',
      attempts: 3,
      at: '2026-01-01T00:00:00.000Z',
    };
    await sink.send([letter]);
    await sink.send([letter]);
    expect(await sink.list('g')).toHaveLength(1);
    expect(await sink.list()).toHaveLength(1);
    await sink.close();
    expect([...actions].sort()).toEqual(documented.get('RiverlogDeadLetters'));
  });

  it('dynamoViewStore on tables made by infrastructure code: every operation, the rare paths too', async () => {
    const prefix = `iam${ulid().toLowerCase()}.`;
    const TABLE = 'products@1';
    await admin.send(new CreateTableCommand(viewTableDefinition(TABLE, { indexes: ['byCategory'], prefix })));
    await admin.send(new CreateTableCommand(aliasTableDefinition(prefix)));
    try {
      const { client, actions } = recordingClient();
      const store = dynamoViewStore({ client, prefix, retry });
      await store.createTable(TABLE, { indexes: ['byCategory'], idWindow: 10 });
      const put = (key: string, category: string, expectedVersion: number): RowWrite => ({
        key,
        value: { category },
        applied: { '0': '1' },
        expectedVersion,
        indexes: { byCategory: [category] },
      });
      const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => `e${from + i}`);
      // 300 ids, then 10 more: the first chunk leaves the window of 10 and is pruned (BatchWriteItem).
      await store.commit(TABLE, {
        rows: [put('p1', 'shoes', 0), put('p2', 'hats', 0)],
        ids: ids(300, 0),
        positions: { '0': '1' },
        fence: { '0': 2 },
      });
      await store.commit(TABLE, { rows: [put('p1', 'boots', 1)], ids: ids(10, 300), positions: { '0': '2' }, fence: { '0': 2 } });
      await expect(store.commit(TABLE, { rows: [put('p2', 'caps', 0)], ids: ['x'], positions: { '0': '3' } })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await expect(store.commit(TABLE, { rows: [], ids: ['y'], positions: { '0': '3' }, fence: { '0': 1 } })).rejects.toMatchObject({
        code: 'LEASE_LOST',
      });
      expect(await store.get(TABLE, 'p1')).toEqual({ category: 'boots' });
      expect([...(await store.rows(TABLE, ['p1', 'p2'])).keys()].sort()).toEqual(['p1', 'p2']);
      expect((await store.list(TABLE)).rows.map((row) => row.key)).toEqual(['p1', 'p2']);
      expect((await store.list(TABLE, { index: 'byCategory', prefix: ['hats'] })).rows.map((row) => row.key)).toEqual(['p2']);
      expect(await store.positions(TABLE)).toEqual({ '0': '2' });
      expect(await store.seen(TABLE, ['e305', 'e0'])).toEqual(new Set(['e305']));
      expect(await store.alias('products')).toBeUndefined();
      expect(await store.setAlias('products', TABLE, undefined)).toBe(true);
      await store.drop(TABLE);
      expect(await store.positions(TABLE)).toEqual({});
      expect([...actions].sort()).toEqual(documented.get('RiverlogViews'));

      actions.clear();
      await store.createTable(TABLE, { indexes: ['byCategory'], idWindow: 10 });
      expect(await store.tables()).toEqual([TABLE]);
      const listing = [...actions].filter((action) => !documented.get('RiverlogViews')?.includes(action)).sort();
      expect(listing).toEqual(documented.get('RiverlogListViewTables'));
      await store.close();
    } finally {
      await deleteTables(prefix);
    }
  });

  it('createTables: true (the state stores, the view store) adds only the development statement', async () => {
    const { client, actions } = recordingClient();
    const fresh = uniqueTable('iam-create');
    const prefix = `iam${ulid().toLowerCase()}.`;
    try {
      const checkpoints = dynamoCheckpointStore({ client, table: fresh, createTables: true });
      await checkpoints.load('g');
      const extra = new Set([...actions].filter((action) => !documented.get('RiverlogCheckpoints')?.includes(action)));
      actions.clear();
      const store = dynamoViewStore({ client, prefix, createTables: true, retry });
      await store.createTable('products@1', { indexes: ['byCategory'], idWindow: 10 });
      await store.commit('products@1', { rows: [], ids: ['e1'], positions: { '0': '1' } });
      expect(await store.setAlias('products', 'products@1', undefined)).toBe(true);
      await store.drop('products@1');
      for (const action of actions) if (!documented.get('RiverlogViews')?.includes(action)) extra.add(action);
      expect([...extra].sort()).toEqual(documented.get('RiverlogCreateTablesInDevelopment'));
      await Promise.all([checkpoints.close(), store.close()]);
    } finally {
      await admin.send(new DeleteTableCommand({ TableName: fresh })).catch(() => undefined);
      await deleteTables(prefix);
    }
  });

  async function deleteTables(prefix: string): Promise<void> {
    for (const name of (await admin.send(new ListTablesCommand({}))).TableNames ?? []) {
      if (name.startsWith(prefix)) await admin.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
    }
  }
});
