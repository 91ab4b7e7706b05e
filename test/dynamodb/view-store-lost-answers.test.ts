// The DynamoDB view store when a write lands and its answer is lost (a 500
// after the engine applied it, retried): the retry's refused condition must
// be read as the store's own write, not as a conflict.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoViewStore } from '@riverlog/dynamodb';
import { expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

/** A client that answers the next `times` calls of `command` with a 500 after the engine applied them. */
function losingAnswers(real: DynamoDBClient, command: string, times: number): DynamoDBClient & { lost: number } {
  const client = Object.assign(Object.create(real) as DynamoDBClient, { lost: 0 });
  client.send = (async (cmd: { constructor: { name: string } }) => {
    const out = await real.send(cmd as never);
    if (cmd.constructor.name === command && client.lost < times) {
      client.lost++;
      throw Object.assign(new Error('InternalServerError (injected by the test)'), {
        name: 'InternalServerError',
        $fault: 'server',
        $metadata: { httpStatusCode: 500, attempts: 1 },
      });
    }
    return out;
  }) as DynamoDBClient['send'];
  return client;
}

describeDynamo('DynamoDB view store: answers lost after the write landed', () => {
  it('setAlias whose first attempt switched the alias reports the switch (true), not a lost compare-and-set', async () => {
    const prefix = `${uniqueTable('alias')}.`;
    const setup = dynamoViewStore({ client: dynamoClient(), prefix, createTables: true });
    await setup.createTable('p@1', { indexes: [], idWindow: 0 });
    await setup.createTable('p@2', { indexes: [], idWindow: 0 });
    expect(await setup.setAlias('p', 'p@1', undefined)).toBe(true);

    const client = losingAnswers(dynamoClient(), 'PutItemCommand', 1);
    const store = dynamoViewStore({ client, prefix, createTables: true, retry: { initialMs: 1, maxMs: 5 } });
    expect(await store.setAlias('p', 'p@2', 'p@1')).toBe(true);
    expect(client.lost).toBe(1);
    expect(await store.alias('p')).toBe('p@2');
    // A real lost race stays false.
    expect(await store.setAlias('p', 'p@1', 'p@1')).toBe(false);
    await setup.drop('p@1');
    await setup.drop('p@2');
  });

  it('a first alias whose answer was lost reports true', async () => {
    const prefix = `${uniqueTable('alias-new')}.`;
    const client = losingAnswers(dynamoClient(), 'PutItemCommand', 1);
    const store = dynamoViewStore({ client, prefix, createTables: true, retry: { initialMs: 1, maxMs: 5 } });
    await dynamoViewStore({ client: dynamoClient(), prefix, createTables: true }).setAlias('other', 'x@1', undefined);
    expect(await store.setAlias('q', 'q@1', undefined)).toBe(true);
    expect(client.lost).toBe(1);
    expect(await store.setAlias('q', 'q@9', undefined)).toBe(false);
  });

  it('a row written twice in one commit, its answer lost, counts as written (no CONFLICT)', async () => {
    const prefix = `${uniqueTable('twice')}.`;
    const setup = dynamoViewStore({ client: dynamoClient(), prefix, createTables: true });
    await setup.createTable('t@1', { indexes: [], idWindow: 0 });
    const client = losingAnswers(dynamoClient(), 'PutItemCommand', 1);
    const store = dynamoViewStore({ client, prefix, retry: { initialMs: 1, maxMs: 5 } });
    await store.commit('t@1', {
      rows: [
        { key: 'a', value: { n: 1 }, applied: { '0': '0' }, expectedVersion: 0 },
        { key: 'a', value: { n: 2 }, applied: { '0': '1' }, expectedVersion: 1 },
      ],
      ids: [],
      positions: { '0': '1' },
    });
    expect(client.lost).toBe(1);
    const row = (await store.rows('t@1', ['a'])).get('a');
    expect(row).toMatchObject({ value: { n: 2 }, version: 2 });
    expect(await store.positions('t@1')).toEqual({ '0': '1' });
    await setup.drop('t@1');
  });
});
