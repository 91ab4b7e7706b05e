// Enhanced fan-out (SubscribeToShard) against kinesis-local, which serves it over HTTP/1.1 only:
// the consumer registered once, records pushed in order, subscriptions renewed from their
// continuation without losing or repeating a record, a shard's end with its children.
import {
  type _Record,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { createConsumer } from '@riverlog/consumer';
import {
  backoffPolicy,
  createEvent,
  defineCatalog,
  defineEvent,
  memoryCheckpointStore,
  memoryDeadLetters,
  RiverlogError,
  t,
  ulid,
} from '@riverlog/core';
import { kinesisLog } from '@riverlog/kinesis';
import { until } from '@riverlog/testing';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { fanOutShardReader } from '../../packages/kinesis/src/fan-out.js';
import type { ShardPageSource, ShardReader, ShardReaderContext } from '../../packages/kinesis/src/shard-reader.js';

const engine = inject('kinesis').kinesisLocal;
const describeLocal: typeof describe = engine.endpoint ? describe : (describe.skip as typeof describe);
if (!engine.endpoint) console.warn(`fan-out tests skip: ${engine.reason}`);

/** A client on kinesis-local, with every command it sends counted by name. */
function countingClient(): { client: KinesisClient; calls: Map<string, number> } {
  const client = new KinesisClient({
    endpoint: engine.endpoint,
    region: engine.endpoint ? engine.region : 'us-east-1',
    credentials: { accessKeyId: 'riverlog', secretAccessKey: 'riverlog' },
    requestHandler: new NodeHttpHandler(),
  });
  const calls = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return { client, calls };
}

const clients: KinesisClient[] = [];
const readers: ShardReader[] = [];
afterAll(async () => {
  for (const reader of readers) await reader.close();
  for (const client of clients) client.destroy();
});

async function createStream(client: KinesisClient, shards: number): Promise<{ name: string; arn: string; shardIds: string[] }> {
  const name = `fan-out-${ulid().toLowerCase()}`;
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  let arn = '';
  await until(async () => {
    const summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
    arn = summary?.StreamARN ?? '';
    return summary?.StreamStatus === 'ACTIVE';
  }, `stream ${name} active`);
  const listed = await client.send(new ListShardsCommand({ StreamName: name }));
  return { name, arn, shardIds: (listed.Shards ?? []).map((s) => s.ShardId as string) };
}

async function put(client: KinesisClient, stream: string, values: readonly string[], key = 'k'): Promise<string[]> {
  const answer = await client.send(
    new PutRecordsCommand({ StreamName: stream, Records: values.map((v) => ({ PartitionKey: key, Data: Buffer.from(v) })) }),
  );
  expect(answer.FailedRecordCount ?? 0).toBe(0);
  return (answer.Records ?? []).map((r) => r.SequenceNumber as string);
}

function reader(client: KinesisClient, stream: { name: string; arn: string }, consumerName: string, extra = {}): ShardReader {
  const context: ShardReaderContext = {
    client,
    streamName: stream.name,
    streamArn: stream.arn,
    uri: `kinesis://${stream.name}`,
    retry: backoffPolicy({ initialMs: 50, maxMs: 1_000 }),
  };
  const made = fanOutShardReader(context, { consumerName, ...extra });
  readers.push(made);
  return made;
}

/** Pulls pages until `done` says so, collecting the records; returns the pages' flags too. */
async function pull(source: ShardPageSource, done: (records: readonly _Record[], ended: boolean) => boolean, what: string) {
  const records: _Record[] = [];
  let ended = false;
  let childShards: unknown;
  let pages = 0;
  let tipPages = 0;
  const deadline = Date.now() + 60_000;
  while (!done(records, ended)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${records.length} records, ended ${ended}`);
    const page = await source.next();
    if (!page) break;
    pages++;
    if (page.atTip) tipPages++;
    records.push(...page.records);
    expect(page.bytes).toBe(page.records.reduce((sum, r) => sum + (r.Data?.length ?? 0), 0));
    if (page.ended) {
      ended = true;
      childShards = page.childShards;
    }
  }
  return { records, ended, childShards, pages, tipPages };
}

const text = (records: readonly _Record[]) => records.map((r) => Buffer.from(r.Data ?? []).toString());

describeLocal('enhanced fan-out shard reader (kinesis-local)', () => {
  it('registers the consumer once, reads a shard from TRIM_HORIZON in order, then what is appended later', async () => {
    const { client, calls } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const shard = stream.shardIds[0] as string;
    await put(client, stream.name, ['a0', 'a1', 'a2']);
    const fanOut = reader(client, stream, 'retail-emailer');
    const source = fanOut.open(shard, { type: 'TRIM_HORIZON' }, new AbortController().signal);
    const first = await pull(source, (r) => r.length >= 3, 'the first three records');
    expect(text(first.records)).toEqual(['a0', 'a1', 'a2']);
    await put(client, stream.name, ['b0', 'b1']);
    const later = await pull(source, (r) => r.length >= 2, 'the records appended later');
    expect(text(later.records)).toEqual(['b0', 'b1']);
    // A second reader of the same consumer finds it: described, not registered again.
    const again = reader(client, stream, 'retail-emailer');
    const second = again.open(
      shard,
      { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: first.records[1]?.SequenceNumber as string },
      new AbortController().signal,
    );
    // One subscription per consumer and shard at a time: end the first before the second subscribes.
    source.close();
    const fromSecond = await pull(second, (r) => r.length >= 4, 'the read from a sequence number');
    expect(text(fromSecond.records)).toEqual(['a1', 'a2', 'b0', 'b1']);
    second.close();
    expect(calls.get('RegisterStreamConsumer')).toBe(1);
    expect(calls.get('GetRecords')).toBeUndefined();
  });

  it('starts after a sequence number, and at the tip pages come empty and atTip', async () => {
    const { client } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const sequence = await put(client, stream.name, ['x0', 'x1', 'x2']);
    const fanOut = reader(client, stream, 'after');
    const source = fanOut.open(
      stream.shardIds[0] as string,
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: sequence[0] as string },
      new AbortController().signal,
    );
    const read = await pull(source, (r) => r.length >= 2, 'two records');
    expect(text(read.records)).toEqual(['x1', 'x2']);
    const empty = await source.next();
    expect(empty).toMatchObject({ records: [], atTip: true, ended: false, bytes: 0 });
    source.close();
    expect(await source.next()).toBeUndefined();
  });

  it('renews subscriptions from their continuation: nothing lost, nothing twice, in order', async () => {
    const { client, calls } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const fanOut = reader(client, stream, 'renewing', { resubscribeMs: 1_500 });
    const controller = new AbortController();
    const source = fanOut.open(stream.shardIds[0] as string, { type: 'TRIM_HORIZON' }, controller.signal);
    const expected: string[] = [];
    const writing = (async () => {
      for (let round = 0; round < 12; round++) {
        const values = Array.from({ length: 20 }, (_, i) => `r${round}-${i}`);
        await put(client, stream.name, values);
        expected.push(...values);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    })();
    const read = await pull(source, (r) => r.length >= 240, 'every record across renewals');
    await writing;
    expect(text(read.records)).toEqual(expected);
    expect(calls.get('SubscribeToShard')).toBeGreaterThanOrEqual(3);
    controller.abort();
    expect(await source.next()).toBeUndefined();
  });

  it('ends a split shard after its last record and names its children', async () => {
    const { client } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const parent = stream.shardIds[0] as string;
    await put(client, stream.name, ['p0', 'p1', 'p2'], 'a');
    const fanOut = reader(client, stream, 'splitting');
    const source = fanOut.open(parent, { type: 'TRIM_HORIZON' }, new AbortController().signal);
    const before = await pull(source, (r) => r.length >= 3, 'the records before the split');
    await put(client, stream.name, ['p3'], 'a');
    await client.send(
      new SplitShardCommand({ StreamName: stream.name, ShardToSplit: parent, NewStartingHashKey: (2n ** 127n).toString() }),
    );
    const rest = await pull(source, (_, ended) => ended, 'the end of the split shard');
    expect(text([...before.records, ...rest.records])).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(rest.ended).toBe(true);
    const children = (rest.childShards as { ShardId: string; ParentShards: string[] }[]).map((c) => [c.ShardId, c.ParentShards]);
    expect(children.map(([id]) => id).sort()).toHaveLength(2);
    for (const [, parents] of children) expect(parents).toEqual([parent]);
    // The children are read like any shard: the record appended after the split is in one of them.
    await put(client, stream.name, ['c0'], 'a');
    const inChildren: _Record[] = [];
    for (const [id] of children) {
      const child = fanOut.open(id as string, { type: 'TRIM_HORIZON' }, new AbortController().signal);
      let atTip = false;
      while (!atTip) {
        const page = await child.next();
        if (!page) break;
        inChildren.push(...page.records);
        atTip = page.atTip;
      }
      child.close();
    }
    expect(text(inChildren)).toEqual(['c0']);
  });

  it('kinesisLog with fanOut: a consumer gets every event across a split, each subject in order, without GetRecords', async () => {
    const { client, calls } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const catalog = defineCatalog([defineEvent('cart/add', { data: { n: t.number } })]);
    const log = kinesisLog({ client, stream: stream.name, fanOut: { consumerName: 'carts' } });
    const writer = kinesisLog({ client: countingClient().client, stream: stream.name });
    const emit = (from: number, count: number) =>
      writer.append(
        Array.from({ length: count }, (_, i) =>
          createEvent(catalog, 'cart/add', `cart-${(from + i) % 10}`, { n: from + i }, { source: 'test' }),
        ),
      );
    await emit(0, 100);
    const handled: { subject: string; n: number; partition: string }[] = [];
    const consumer = createConsumer({
      log,
      catalog,
      group: 'fan-out',
      checkpoints: memoryCheckpointStore(),
      deadLetters: memoryDeadLetters(),
      handlers: {
        'cart/add': (event, { position }) => void handled.push({ subject: event.subject, n: event.data.n, partition: position.partition }),
      },
    });
    await consumer.start();
    await until(() => handled.length >= 100, 'the first 100 events', 30_000);
    await writer.split(stream.shardIds[0] as string);
    await emit(100, 100);
    await until(() => handled.length >= 200, 'the events appended after the split', 60_000);
    await consumer.stop();
    await log.close();
    await writer.close();
    expect(handled).toHaveLength(200);
    for (let s = 0; s < 10; s++) {
      const ns = handled.filter((h) => h.subject === `cart-${s}`).map((h) => h.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      expect(ns).toHaveLength(20);
    }
    expect(new Set(handled.map((h) => h.partition)).size).toBe(3);
    expect(calls.get('GetRecords')).toBeUndefined();
    expect(calls.get('SubscribeToShard')).toBeGreaterThanOrEqual(3);
  });

  it('fails a read of a shard that does not exist with LOG_READ_FAILED naming it', async () => {
    const { client } = countingClient();
    clients.push(client);
    const stream = await createStream(client, 1);
    const source = reader(client, stream, 'missing').open('shardId-000000000042', { type: 'TRIM_HORIZON' }, new AbortController().signal);
    const failure = await source.next().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RiverlogError);
    expect(failure).toMatchObject({ code: 'LOG_READ_FAILED' });
    expect((failure as Error).message).toContain('shardId-000000000042');
  });

  it('refuses a consumer name Kinesis would refuse, and unknown options', () => {
    const { client } = countingClient();
    clients.push(client);
    const context = { client, streamName: 's', streamArn: 'arn', uri: 'kinesis://s', retry: backoffPolicy() };
    expect(() => fanOutShardReader(context, { consumerName: 'no spaces' })).toThrow(/consumerName/);
    expect(() => fanOutShardReader(context, { consumerName: 'ok', resubscribMs: 5 } as never)).toThrow(/resubscribeMs/);
  });
});
