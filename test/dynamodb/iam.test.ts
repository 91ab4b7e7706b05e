// Least privilege: each store, driven through every operation it has (the
// rare paths too: a LEASE_LOST, a take whose answer was lost, a listing of
// every group), calls exactly the DynamoDB actions its statement in the
// package README's policy document allows — no more (it would be refused in
// production) and no fewer (the README would grant too much).
import { readFileSync } from 'node:fs';
import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Lease } from '@riverlog/core';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore, stateTableDefinition } from '@riverlog/dynamodb';
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
    for (const sid of ['RiverlogCheckpoints', 'RiverlogLeases', 'RiverlogDeadLetters', 'RiverlogCreateTablesInDevelopment']) {
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

  it('createTable: true adds only the development statement', async () => {
    const { client, actions } = recordingClient();
    const fresh = uniqueTable('iam-create');
    try {
      const store = dynamoCheckpointStore({ client, table: fresh, createTable: true });
      await store.load('g');
      const extra = [...actions].filter((action) => !documented.get('RiverlogCheckpoints')?.includes(action)).sort();
      expect(extra).toEqual(documented.get('RiverlogCreateTablesInDevelopment'));
    } finally {
      await admin.send(new DeleteTableCommand({ TableName: fresh })).catch(() => undefined);
    }
  });
});
