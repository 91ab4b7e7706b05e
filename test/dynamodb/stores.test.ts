// What the contract suites do not cover: options checked at run time, a
// missing table, a take whose answer was lost, dead letters too large for an
// item, and the table schema.
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DeadLetter, RiverlogError } from '@riverlog/core';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore, stateTableDefinition } from '@riverlog/dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

const codeOf = async (promise: Promise<unknown>) =>
  (
    (await promise.then(
      () => undefined,
      (e) => e,
    )) as RiverlogError
  )?.code;

describe('DynamoDB stores: options', () => {
  const client = { send: async () => ({}) } as unknown as DynamoDBClient;
  it('are checked at once, naming the option', () => {
    for (const make of [dynamoCheckpointStore, dynamoLeaseStore, dynamoDeadLetters]) {
      expect(() => make({ client, tabel: 'x' } as never)).toThrow(/did you mean "table"/);
      expect(() => make({ client, table: 'a b' })).toThrow(/table must be a DynamoDB table name/);
      expect(() => make({ client: {} as DynamoDBClient })).toThrow(/client must be a DynamoDBClient/);
      expect(() => make({ client, createTables: 'yes' as never })).toThrow(/createTables must be true or false/);
      expect(() => make({ client, retry: { initialMs: -1 } })).toThrow(/initialMs/);
    }
  });
});

describeDynamo('DynamoDB stores on the engine', () => {
  const client = dynamoClient();
  const tables: string[] = [];
  const table = (what: string) => {
    const name = uniqueTable(what);
    tables.push(name);
    return name;
  };
  afterAll(async () => {
    for (const name of tables) await client.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
    client.destroy();
  });

  it('a missing table is STORE_OPEN_FAILED saying how to create it; createTables makes it from stateTableDefinition', async () => {
    const name = table('missing');
    const leases = dynamoLeaseStore({ client, table: name });
    const error = (await leases.list('g').catch((e) => e)) as RiverlogError;
    expect(error.code).toBe('STORE_OPEN_FAILED');
    expect(error.message).toContain(name);
    expect(error.message).toMatch(/createTables: true/);
    const created = dynamoCheckpointStore({ client, table: name, createTables: true });
    await created.save('g', { '0': '1' });
    const described = await client.send(new DescribeTableCommand({ TableName: name }));
    expect(described.Table?.KeySchema).toEqual(stateTableDefinition(name).KeySchema);
    expect(await leases.list('g')).toEqual([]);
  });

  it('createTables refuses a table with other keys', async () => {
    const name = table('other-keys');
    await client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const store = dynamoCheckpointStore({ client, table: name, createTables: true });
    const error = (await store.load('g').catch((e) => e)) as RiverlogError;
    expect(error.code).toBe('STORE_OPEN_FAILED');
    expect(error.message).toMatch(/keys id:HASH/);
  });

  it('several stores creating one table at once all see it active', async () => {
    const name = table('race');
    const stores = Array.from({ length: 4 }, () => dynamoLeaseStore({ client: dynamoClient(), table: name, createTables: true }));
    const taken = await Promise.all(stores.map((store, i) => store.take('g', '0', `o${i}`, undefined)));
    expect(taken.filter(Boolean)).toHaveLength(1);
  });

  it('a closed store rejects calls with CLOSED', async () => {
    const store = dynamoLeaseStore({ client, table: table('closed'), createTables: true });
    await store.close();
    expect(await codeOf(store.list('g'))).toBe('CLOSED');
  });

  it('a take whose answer was lost after the write returns the lease it wrote', async () => {
    const name = table('lost-answer');
    let lose = 0;
    // The write is applied, then the answer "fails" with a 500 and the store retries.
    const lossy = Object.assign(Object.create(client) as DynamoDBClient, {
      send: async (command: object) => {
        const out = await client.send(command as never);
        if ((command instanceof PutItemCommand || command instanceof UpdateItemCommand) && lose > 0) {
          lose--;
          throw Object.assign(new Error('lost'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
        }
        return out;
      },
    });
    const store = dynamoLeaseStore({ client: lossy, table: name, createTables: true, retry: { initialMs: 1, maxMs: 2 } });
    await store.list('g'); // creates the table
    lose = 1;
    const first = await store.take('g', '0', 'a', undefined);
    expect(first).toMatchObject({ owner: 'a', epoch: 1, counter: 1 });
    lose = 1;
    const second = await store.take('g', '0', 'b', first);
    expect(second).toMatchObject({ owner: 'b', epoch: 2, counter: 2 });
    expect(await store.list('g')).toEqual([second]);
    // Someone else's take is still refused.
    expect(await store.take('g', '0', 'c', first)).toBeUndefined();
  });

  it('a LEASE_LOST names the group, the partition, both epochs and the table', async () => {
    const name = table('lease-lost');
    const store = dynamoCheckpointStore({ client, table: name, createTables: true });
    await store.save('emailer', {}, { '7': 5 });
    const error = (await store.save('emailer', { '7': '1' }, { '7': 4 }).catch((e) => e)) as RiverlogError;
    expect(error.code).toBe('LEASE_LOST');
    expect(error.message).toMatch(/group emailer.*partition 7.*epoch 4.*epoch 5/);
    expect(error.message).toContain(name);
  });

  it('keeps a dead letter whose record is too large for an item, cut down and saying so', async () => {
    const sink = dynamoDeadLetters({ client, table: table('large-letter'), createTables: true });
    const big: DeadLetter = {
      group: 'g',
      record: { position: { partition: '0', offset: '9' }, event: undefined, raw: 'x'.repeat(500_000), error: 'not JSON' },
      code: 'DECODE_FAILED',
      reason: 'not JSON',
      attempts: 0,
      at: '2026-01-01T00:00:00.000Z',
    };
    await sink.send([big]);
    const [stored] = await sink.list('g');
    expect(stored?.record.position).toEqual({ partition: '0', offset: '9' });
    expect(stored?.record.raw?.length).toBeLessThan(100_000);
    expect(stored?.record.error).toMatch(/^not JSON; the record was \d+ bytes/);
  });

  it('lists dead letters of a group in partition and offset order (digits as numbers)', async () => {
    const sink = dynamoDeadLetters({ client, table: table('letter-order'), createTables: true });
    const letter = (partition: string, offset: string): DeadLetter => ({
      group: 'g',
      record: { position: { partition, offset }, event: { id: `${partition}-${offset}` } },
      code: 'HANDLER_FAILED',
      reason: 'r',
      attempts: 1,
      at: '2026-01-01T00:00:00.000Z',
    });
    await sink.send([letter('10', '1'), letter('2', '100'), letter('2', '9'), letter('2', '10')]);
    expect((await sink.list('g')).map((l) => `${l.record.position.partition}/${l.record.position.offset}`)).toEqual([
      '2/9',
      '2/10',
      '2/100',
      '10/1',
    ]);
  });
});
