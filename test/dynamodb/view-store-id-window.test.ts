// The DynamoDB view store's id window: chunks older than the window are
// deleted in bulk; a prune that failed is done again by a later commit, not
// forgotten (chunks left in the table for good).
import { BatchWriteItemCommand, type DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { dynamoViewStore, viewTableName } from '@riverlog/dynamodb';
import { expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

/** A client whose next `failures` BatchWriteItem calls are refused (a validation error: not retried). */
function failingBatches(real: DynamoDBClient): DynamoDBClient & { failures: number } {
  const client = Object.assign(Object.create(real) as DynamoDBClient, { failures: 0 });
  client.send = (async (command: object) => {
    if (command instanceof BatchWriteItemCommand && client.failures > 0) {
      client.failures--;
      throw Object.assign(new Error('refused (injected by the test)'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    }
    return real.send(command as never);
  }) as DynamoDBClient['send'];
  return client;
}

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `id-${from + i}`);

describeDynamo('DynamoDB view store: id window pruning', () => {
  it('chunks a failed prune left are deleted by the next prune', async () => {
    const prefix = `${uniqueTable('prune')}.`;
    const real = dynamoClient();
    const client = failingBatches(real);
    const store = dynamoViewStore({ client, prefix, createTables: true });
    // Window 256: a prune once 256 ids (idPruneEvery's floor) are past it.
    await store.createTable('w@1', { indexes: [], idWindow: 256 });
    let next = 0;
    const commit = async (n: number) => {
      await store.commit('w@1', { rows: [], ids: ids(next, n), positions: { '0': String(next + n - 1) } });
      next += n;
    };
    for (let i = 0; i < 3; i++) await commit(128); // 384 ids: one chunk of 128 wholly past the window, no prune yet
    client.failures = 1;
    const failed = await commit(128).then(
      () => undefined,
      (error) => error,
    );
    expect(failed?.name).toBe('ValidationException');
    next += 128; // the commit itself landed: only its prune failed
    for (let i = 0; i < 3; i++) await commit(128);
    const chunks = await real.send(
      new QueryCommand({
        TableName: viewTableName(prefix, 'w@1'),
        KeyConditionExpression: 'pk = :i',
        ExpressionAttributeValues: { ':i': { S: 'i' } },
        ConsistentRead: true,
      }),
    );
    // 8 chunks of 128 written; every chunk wholly older than the newest 256 ids must be gone (two or three stay).
    expect(chunks.Items?.length).toBeLessThanOrEqual(3);
    // The window still holds the newest ids.
    expect([...(await store.seen('w@1', [`id-${next - 1}`, `id-${next - 256}`]))].sort()).toEqual(
      [`id-${next - 1}`, `id-${next - 256}`].sort(),
    );
    await store.drop('w@1');
  });

  it('a chunk read by a lookup while its own write was answering is kept once (pruning then deletes it once)', async () => {
    const prefix = `${uniqueTable('prune-race')}.`;
    const real = dynamoClient();
    let during: (() => Promise<unknown>) | undefined;
    const client = Object.assign(Object.create(real) as DynamoDBClient);
    const deleted: string[] = [];
    client.send = (async (command: object) => {
      if (command instanceof BatchWriteItemCommand) {
        for (const requests of Object.values(command.input.RequestItems ?? {})) {
          deleted.push(...requests.map((r) => JSON.stringify(r.DeleteRequest?.Key)));
        }
      }
      const out = await real.send(command as never);
      const item = command instanceof PutItemCommand ? command.input.Item : undefined;
      if (item?.pk?.S === 'i' && during) {
        // A lookup of the same store runs after the chunk landed and before its writer hears so.
        const run = during;
        during = undefined;
        await run();
      }
      return out;
    }) as DynamoDBClient['send'];
    const store = dynamoViewStore({ client, prefix, createTables: true });
    await store.createTable('w@1', { indexes: [], idWindow: 256 });
    let next = 0;
    const commit = async (n: number) => {
      await store.commit('w@1', { rows: [], ids: ids(next, n), positions: { '0': String(next + n - 1) } });
      next += n;
    };
    await commit(128);
    during = () => store.seen('w@1', ['id-0']);
    await commit(128);
    expect(during).toBeUndefined();
    for (let i = 0; i < 4; i++) await commit(128);
    const chunks = await real.send(
      new QueryCommand({
        TableName: viewTableName(prefix, 'w@1'),
        KeyConditionExpression: 'pk = :i',
        ExpressionAttributeValues: { ':i': { S: 'i' } },
        ConsistentRead: true,
      }),
    );
    // Each chunk deleted once: a chunk kept twice in the cache counts its ids twice (the window shrinks) and is deleted twice.
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.filter((key, i) => deleted.indexOf(key) !== i)).toEqual([]);
    expect(chunks.Items?.length).toBeLessThanOrEqual(3);
    expect(await store.seen('w@1', ['id-0', `id-${next - 1}`])).toEqual(new Set([`id-${next - 1}`]));
    await store.drop('w@1');
  });

  it('a chunk whose answer was lost, read meanwhile by a lookup of the same store, counts as written', async () => {
    const prefix = `${uniqueTable('lost-chunk')}.`;
    const real = dynamoClient();
    let during: (() => Promise<unknown>) | undefined;
    const client = Object.assign(Object.create(real) as DynamoDBClient);
    client.send = (async (command: object) => {
      const out = await real.send(command as never);
      const item = command instanceof PutItemCommand ? command.input.Item : undefined;
      if (item?.pk?.S === 'i' && during) {
        const run = during;
        during = undefined;
        await run();
        throw Object.assign(new Error('InternalServerError (injected after the write)'), {
          name: 'InternalServerError',
          $metadata: { httpStatusCode: 500 },
        });
      }
      return out;
    }) as DynamoDBClient['send'];
    const store = dynamoViewStore({ client, prefix, createTables: true, retry: { initialMs: 1, maxMs: 5 } });
    await store.createTable('w@1', { indexes: [], idWindow: 1_000 });
    await store.commit('w@1', { rows: [], ids: ['a'], positions: { '0': '0' } });
    during = () => store.seen('w@1', ['a']);
    await store.commit('w@1', { rows: [], ids: ['b'], positions: { '0': '1' } });
    expect(during).toBeUndefined();
    expect(await store.positions('w@1')).toEqual({ '0': '1' });
    expect(await store.seen('w@1', ['a', 'b', 'c'])).toEqual(new Set(['a', 'b']));
    await store.drop('w@1');
  });
});
