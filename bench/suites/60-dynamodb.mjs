// Building a Hello Retail style products view (by id, byCategory index) into
// the DynamoDB view store with runView, against a hand-written loop of one
// conditional UpdateItem per event (Hello Retail's own style) with the same
// number of calls in flight, over the same events read from the same SQLite
// log, in the same run, on dynalite (or RIVERLOG_DYNAMODB_ENDPOINT).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { defineCatalog, defineEvent, t, ulid } from '@riverlog/core';
import { DEFAULT_MAX_IN_FLIGHT, dynamoViewStore, localDynamoClient } from '@riverlog/dynamodb';
import { sqliteLog } from '@riverlog/sqlite';
import { defineView, runView } from '@riverlog/view-builder';
import { startDynalite } from '../../test/infra/dynalite.mjs';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 1_000 : 8_000;
const RUNS = QUICK ? 1 : 3;
const IN_FLIGHT = DEFAULT_MAX_IN_FLIGHT;
/** Products created after a product before it is imaged: far enough that its two events fall in different commits. */
const LAG = (EVENTS / 2) * 0.75;

/** Products the repeating-keys log's events cycle over. */
const HOT_PRODUCTS = 200;

export const title = 'DynamoDB views';
export const about = `A products view (by id, a byCategory index) folded by \`runView\` (row guards and id window on, commits of 1,000 events, ${IN_FLIGHT} calls in flight) from a 4-partition SQLite log into the DynamoDB view store on dynalite (one process on this machine: every figure is dynalite's speed, not AWS's). Baseline: the same events read from the same log and written by hand, Hello Retail style, one conditional UpdateItem per event (create: \`attribute_not_exists\`, image: \`attribute_exists\`) into a table with a keys-only category index, ${IN_FLIGHT} calls in flight (events of one product in order), a checkpoint UpdateItem per batch. Two logs of ${EVENTS.toLocaleString('en-US')} events: each product created then imaged ${LAG.toLocaleString('en-US')} products later (its two events mostly in different commits), and events cycling over ${HOT_PRODUCTS} products (repeated keys). Write calls are PutItem/UpdateItem/DeleteItem/BatchWriteItem counted by an SDK middleware. Interleaved, median of ${RUNS}.`;

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, brand: t.string, name: t.string, description: t.string, category: t.string } }),
  defineEvent('product/image', { data: { id: t.string, image: t.string } }),
]);

const products = defineView({
  name: 'products',
  version: 1,
  catalog,
  initial: { id: '', brand: '', name: '', description: '', category: '' },
  key: (event) => event.data.id,
  apply: {
    'product/create': (product, { data }) => ({ ...product, ...data }),
    'product/image': (product, { data }, row) => (row.exists ? { ...product, image: data.image } : product),
  },
  indexes: { byCategory: (product) => [product.category, product.name] },
});

const TIME = '2026-11-22T00:00:00.000Z';
const CATEGORIES = ['shoes', 'coats', 'hats', 'bags', 'shirts', 'socks', 'belts', 'scarves'];

/** Each product created, then imaged `LAG` products later. */
function* spreadEvents(total) {
  const count = total / 2;
  const lag = LAG;
  let i = 0;
  for (let k = 0; k < count + lag; k++) {
    if (k < count) yield create(`product-${k}`, k, i++);
    if (k >= lag) yield image(`product-${k - lag}`, i++);
  }
}

/** `HOT_PRODUCTS` products created, then images cycling over them. */
function* repeatingEvents(total) {
  let i = 0;
  for (let k = 0; k < HOT_PRODUCTS; k++) yield create(`hot-${k}`, k, i++);
  while (i < total) yield image(`hot-${i % HOT_PRODUCTS}`, i++);
}

function create(id, k, i) {
  return {
    specversion: '1.0',
    id: `ev-${i}`,
    source: 'bench/dynamodb',
    subject: id,
    time: TIME,
    type: 'product/create',
    dataschema: catalog.dataschema('product/create'),
    data: { id, brand: 'Acme', name: `Product ${k % 9973}`, description: 'A fine thing for the bench', category: CATEGORIES[k % 8] },
  };
}

function image(id, i) {
  return {
    specversion: '1.0',
    id: `ev-${i}`,
    source: 'bench/dynamodb',
    subject: id,
    time: TIME,
    type: 'product/image',
    dataschema: catalog.dataschema('product/image'),
    data: { id, image: `https://img.example/${id}/${i}.jpg` },
  };
}

async function fillLog(path, events) {
  const log = sqliteLog({ path, partitions: 4, synchronous: 'normal' });
  await log.append([...events]);
  await log.close();
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);

/** A client whose calls are counted: `{ writes, calls }`. */
function countedClient(endpoint) {
  const client = localDynamoClient(endpoint);
  const counts = { writes: 0, calls: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.calls++;
      if (WRITES.has(context.commandName)) counts.writes++;
      return next(args);
    },
    { step: 'initialize', name: 'benchCounts' },
  );
  return { client, counts };
}

async function riverlogView(endpoint, logPath) {
  const { client, counts } = countedClient(endpoint);
  const log = sqliteLog({ path: logPath });
  const store = dynamoViewStore({ client, prefix: `bench${ulid().toLowerCase()}.`, createTables: true, maxInFlight: IN_FLIGHT });
  await store.createTable(products.table, { indexes: ['byCategory'], idWindow: 100_000 });
  const before = { ...counts };
  const started = performance.now();
  const runner = runView(products, { log, store });
  await runner.caughtUp();
  const seconds = (performance.now() - started) / 1000;
  const { conflicts } = runner.status();
  await runner.stop();
  await store.drop(products.table);
  await store.close();
  await log.close();
  client.destroy();
  if (conflicts !== 0) throw new Error(`riverlog view: ${conflicts} conflicts, expected none`);
  return { rate: EVENTS / seconds, writes: counts.writes - before.writes, calls: counts.calls - before.calls, seconds };
}

async function handWritten(endpoint, logPath) {
  const { client, counts } = countedClient(endpoint);
  const TableName = `bench-hand-${ulid().toLowerCase()}`;
  await client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'id', AttributeType: 'S' },
        { AttributeName: 'category', AttributeType: 'S' },
        { AttributeName: 'name', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byCategory',
          KeySchema: [
            { AttributeName: 'category', KeyType: 'HASH' },
            { AttributeName: 'name', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );
  const log = sqliteLog({ path: logPath });
  const write = (event) =>
    event.type === 'product/create'
      ? client.send(
          new UpdateItemCommand({
            TableName,
            Key: { id: { S: event.data.id } },
            UpdateExpression: 'SET brand = :brand, #name = :name, description = :description, category = :category',
            ConditionExpression: 'attribute_not_exists(id)',
            ExpressionAttributeNames: { '#name': 'name' },
            ExpressionAttributeValues: {
              ':brand': { S: event.data.brand },
              ':name': { S: event.data.name },
              ':description': { S: event.data.description },
              ':category': { S: event.data.category },
            },
          }),
        )
      : client.send(
          new UpdateItemCommand({
            TableName,
            Key: { id: { S: event.data.id } },
            UpdateExpression: 'SET image = :image',
            ConditionExpression: 'attribute_exists(id)',
            ExpressionAttributeValues: { ':image': { S: event.data.image } },
          }),
        );
  const before = { ...counts };
  const started = performance.now();
  for await (const batch of log.read({ from: 'earliest' })) {
    if (batch.records.length === 0) continue;
    // Events of one product in order; products in parallel, IN_FLIGHT calls at most.
    const byProduct = new Map();
    for (const { event } of batch.records) {
      const list = byProduct.get(event.data.id);
      if (list) list.push(event);
      else byProduct.set(event.data.id, [event]);
    }
    const lanes = [...byProduct.values()];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(IN_FLIGHT, lanes.length) }, async () => {
        while (next < lanes.length) for (const event of lanes[next++]) await write(event);
      }),
    );
    const last = batch.records[batch.records.length - 1].position;
    await client.send(
      new UpdateItemCommand({
        TableName,
        Key: { id: { S: `checkpoint#${last.partition}` } },
        UpdateExpression: 'SET #offset = :offset',
        ExpressionAttributeNames: { '#offset': 'offset' },
        ExpressionAttributeValues: { ':offset': { S: last.offset } },
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await client.send(new DeleteTableCommand({ TableName }));
  await log.close();
  client.destroy();
  return { rate: EVENTS / seconds, writes: counts.writes - before.writes, calls: counts.calls - before.calls, seconds };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const medianBy = (runs, key) => median(runs.map((r) => r[key]));

export async function run() {
  const own = process.env.RIVERLOG_DYNAMODB_ENDPOINT;
  const engine = own ? undefined : await startDynalite();
  const endpoint = own ?? engine.endpoint;
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-bench-dynamodb-'));
  try {
    const rows = [];
    for (const [name, events, minRatio] of [
      [`each product created, then imaged ${LAG.toLocaleString('en-US')} products later`, spreadEvents, 0.8],
      [`events cycling over ${HOT_PRODUCTS} products (repeated keys)`, repeatingEvents, 1],
    ]) {
      const logPath = join(dir, `${events.name}.db`);
      await fillLog(logPath, events(EVENTS));
      if (!QUICK) {
        await riverlogView(endpoint, logPath); // warm-up
        await handWritten(endpoint, logPath);
      }
      const river = [];
      const hand = [];
      for (let i = 0; i < RUNS; i++) {
        river.push(await riverlogView(endpoint, logPath));
        hand.push(await handWritten(endpoint, logPath));
      }
      const per = (runs) => (medianBy(runs, 'writes') / EVENTS).toFixed(2);
      const callRate = (runs) => Math.round(median(runs.map((r) => r.calls / r.seconds))).toLocaleString('en-US');
      rows.push({
        name: `runView products + byCategory, ${EVENTS.toLocaleString('en-US')} events, ${name}: SQLite log → DynamoDB view store (dynalite)`,
        unit: 'events/s',
        riverlog: medianBy(river, 'rate'),
        baseline: medianBy(hand, 'rate'),
        baselineName: `hand loop: one conditional UpdateItem per event, ${IN_FLIGHT} in flight`,
        minRatio,
        note: `write calls per event: riverlog ${per(river)} vs ${per(hand)}; calls/s: riverlog ${callRate(river)} (all calls: reads, id window, checkpoint) vs ${callRate(hand)}; runs: ${river.map((r) => Math.round(r.rate)).join(', ')} vs ${hand.map((r) => Math.round(r.rate)).join(', ')}`,
      });
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await engine?.stop();
  }
}
