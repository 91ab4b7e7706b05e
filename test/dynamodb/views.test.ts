// runView on the DynamoDB view store: one write per changed row per commit
// (counted at the SDK), and exact views under throttling and partial batches.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defineCatalog, defineEvent, type EventLog, memoryLog, memoryViewStore, t, ulid, type ViewStore } from '@riverlog/core';
import { dynamoViewStore } from '@riverlog/dynamodb';
import { defineView, openView, runView } from '@riverlog/view-builder';
import { afterEach, expect, it } from 'vitest';
import { describeDynamo, dynamoClient } from './support.js';

const catalog = defineCatalog([defineEvent('stock/add', { data: { sku: t.string, n: t.number } })]);
const TIME = '2026-11-22T00:00:00.000Z';

/** Per sku a count and sum, and one row every partition feeds: the total. */
const stock = defineView({
  name: 'stock',
  version: 1,
  catalog,
  initial: { adds: 0, units: 0 },
  key: (event) => [event.data.sku, 'total'],
  apply: { 'stock/add': (row, { data }) => ({ adds: row.adds + 1, units: row.units + data.n }) },
  indexes: { byUnits: (row) => [row.units] },
});

async function stockLog(events: number, skus: number): Promise<EventLog> {
  const log = memoryLog({ partitions: 3 });
  const batch = Array.from({ length: events }, (_, i) => {
    const sku = `sku-${(i * 7) % skus}`;
    return {
      specversion: '1.0' as const,
      id: `ev-${i}`,
      type: 'stock/add',
      source: 'test/dynamodb-views',
      subject: sku,
      time: TIME,
      dataschema: catalog.dataschema('stock/add'),
      data: { sku, n: (i % 5) + 1 },
    };
  });
  await log.append(batch);
  return log;
}

/** Every row of the view, by key. */
async function dump(store: ViewStore): Promise<Record<string, unknown>> {
  const rows: Record<string, unknown> = {};
  for await (const { key, value } of openView(stock, store).all()) rows[key] = value;
  return rows;
}

/** The view as a pure fold makes it: built on the memory store. */
async function expected(log: EventLog): Promise<Record<string, unknown>> {
  const store = memoryViewStore();
  const runner = runView(stock, { log, store });
  await runner.caughtUp();
  await runner.stop();
  return dump(store);
}

/** Counts the calls of each kind the client sends, and the row writes among them (PutItem of an `r#` item). */
function countCalls(client: DynamoDBClient) {
  const counts = { rowWrites: 0, calls: new Map<string, number>() };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context as { commandName?: string }).commandName ?? '?';
      counts.calls.set(name, (counts.calls.get(name) ?? 0) + 1);
      const input = args.input as { Item?: { pk?: { S?: string } } };
      if (name === 'PutItemCommand' && input.Item?.pk?.S?.startsWith('r#')) counts.rowWrites++;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return counts;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function freshStore(client: DynamoDBClient): ViewStore {
  const store = dynamoViewStore({ client, prefix: `v${ulid().toLowerCase()}.`, createTables: true });
  cleanups.push(async () => {
    await store.drop(stock.table).catch(() => undefined);
    await store.close();
    client.destroy();
  });
  return store;
}

describeDynamo('runView on the DynamoDB view store', () => {
  it('writes each changed row once per commit: fewer row writes than events when events repeat keys', async () => {
    const log = await stockLog(1_200, 15);
    const client = dynamoClient();
    const counts = countCalls(client);
    const store = freshStore(client);
    const commits: { rows: number; records: number }[] = [];
    const runner = runView(stock, { log, store, onCommit: (info) => commits.push({ rows: info.rows, records: info.records }) });
    await runner.caughtUp();
    await runner.stop();
    expect(await dump(store)).toEqual(await expected(log));
    const rows = commits.reduce((sum, c) => sum + c.rows, 0);
    // Every row write the SDK sent is one the commits reported, and no commit wrote more rows than the view has (15 skus + total).
    expect(counts.rowWrites).toBe(rows);
    for (const commit of commits) expect(commit.rows).toBeLessThanOrEqual(16);
    expect(counts.rowWrites).toBeLessThan(1_200 / 10);
    expect(counts.calls.get('TransactWriteItemsCommand')).toBeUndefined();
  });

  it('stays exact when 30% of calls are throttled, some answers are lost after the write, and batch reads come back half unprocessed', async () => {
    const log = await stockLog(1_500, 40);
    const client = dynamoClient();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const injected = { throttled: 0, lost: 0, halved: 0 };
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = (context as { commandName?: string }).commandName ?? '';
        if (name === 'CreateTableCommand' || name === 'DescribeTableCommand' || name === 'DeleteTableCommand') return next(args);
        if (random() < 0.3) {
          injected.throttled++;
          throw Object.assign(new Error('Rate exceeded (injected)'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
        }
        if (name === 'BatchGetItemCommand') {
          const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
          const [table, request] = Object.entries(input.RequestItems)[0] as [string, { Keys: unknown[] }];
          if (request.Keys.length > 1) {
            injected.halved++;
            const half = Math.ceil(request.Keys.length / 2);
            const sent = { ...args, input: { ...input, RequestItems: { [table]: { ...request, Keys: request.Keys.slice(0, half) } } } };
            const result = (await next(sent)) as { output: { UnprocessedKeys?: Record<string, unknown> } };
            result.output.UnprocessedKeys = { [table]: { ...request, Keys: request.Keys.slice(half) } };
            return result as never;
          }
        }
        const result = await next(args);
        if ((name === 'PutItemCommand' || name === 'UpdateItemCommand') && random() < 0.05) {
          injected.lost++;
          throw Object.assign(new Error('We encountered an internal error (injected, after the write)'), {
            name: 'InternalServerError',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return result;
      },
      { step: 'initialize', name: 'faults' },
    );
    const store = freshStore(client);
    const runner = runView(stock, { log, store, commitSize: 200, retry: { initialMs: 1, maxMs: 20 } });
    await runner.caughtUp({ timeoutMs: 100_000 });
    await runner.stop();
    expect(await dump(store)).toEqual(await expected(log));
    expect(injected.throttled).toBeGreaterThan(20);
    expect(injected.lost).toBeGreaterThan(0);
    expect(injected.halved).toBeGreaterThan(0);
  });
});
