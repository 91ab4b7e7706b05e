// The Lambda Kinesis adapter on records kinesisLog really wrote (plain and KPL-aggregated), read back
// from the emulator with the raw SDK and wrapped in the KinesisStreamEvent shape Lambda hands over.
import type { _Record, KinesisClient } from '@aws-sdk/client-kinesis';
import { kinesisHandler } from '@riverlog/consumer/lambda';
import { createEvent, defineCatalog, defineEvent, type Envelope, memoryDeadLetters, type Position, t } from '@riverlog/core';
import { kinesisLog } from '@riverlog/kinesis';
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createStream, describeOn, kinesalite, rawClient, readRaw, uniqueStream } from './extras-support.js';

const catalog = defineCatalog([defineEvent('cart/add', { data: { sku: t.string, n: t.number } })]);
const add = (subject: string, n: number) => createEvent(catalog, 'cart/add', subject, { sku: `p-${n}`, n }, { source: 'test' });

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'cart-consumer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:cart-consumer',
    memoryLimitInMB: '256',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/cart-consumer',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A record as Lambda's Kinesis event source mapping hands it over. */
function asLambdaRecord(stream: string, shardId: string, record: _Record): KinesisStreamRecord {
  return {
    awsRegion: 'us-east-1',
    eventID: `${shardId}:${record.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/cart-consumer',
    kinesis: {
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1000,
      data: Buffer.from(record.Data ?? []).toString('base64'),
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey as string,
      sequenceNumber: record.SequenceNumber as string,
    },
  };
}

let client: KinesisClient;
let stream: string;
/** What was appended, with the position kinesisLog returned for it. */
const written: { event: Envelope; position: Position }[] = [];
let raw: Map<string, _Record[]>;

const describeKinesalite = describeOn(kinesalite, 'Lambda records');

beforeAll(async () => {
  if (!kinesalite.endpoint) return;
  client = rawClient(kinesalite);
  stream = uniqueStream('lambda');
  await createStream(client, stream, 2);
  const plain = kinesisLog({ client, stream });
  const aggregating = kinesisLog({ client, stream, aggregate: true });
  const subjects = ['cart-a', 'cart-b', 'cart-c', 'cart-d', 'cart-e', 'cart-f'];
  let n = 0;
  // Plain and aggregated appends interleaved, so one shard holds both kinds in turn.
  for (const log of [plain, aggregating, plain, aggregating]) {
    const events = Array.from({ length: 60 }, () => {
      n++;
      return add(subjects[n % subjects.length] as string, n);
    });
    const positions = await log.append(events);
    for (const [i, event] of events.entries()) written.push({ event, position: positions[i] as Position });
  }
  await plain.close();
  await aggregating.close();
  raw = await readRaw(client, stream);
});

afterAll(() => client?.destroy());

describeKinesalite('the Lambda Kinesis adapter on records kinesisLog wrote', () => {
  it('wrote both kinds: aggregates (fewer Kinesis records than events) and plain records', () => {
    const kinesisRecords = [...raw.values()].reduce((sum, records) => sum + records.length, 0);
    const aggregated = written.filter((w) => w.position.offset.includes('.')).length;
    expect(aggregated).toBe(120);
    expect(kinesisRecords).toBeLessThan(written.length);
    expect(kinesisRecords).toBeGreaterThanOrEqual(120);
  });

  it('hands every event to its handler once, at the position the append returned, in order per shard', async () => {
    const handled: { id: string; position: Position }[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      handlers: { 'cart/add': (event, context) => void handled.push({ id: event.id, position: context.position }) },
    });
    for (const [shardId, records] of raw) {
      const event: KinesisStreamEvent = { Records: records.map((r) => asLambdaRecord(stream, shardId, r)) };
      expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    }
    const byId = new Map(written.map((w) => [w.event.id, w.position]));
    expect(handled).toHaveLength(written.length);
    for (const { id, position } of handled) expect(position).toEqual(byId.get(id));
    // Per shard, in the order the log wrote them (subjects run in parallel lanes: compare each shard's sorted order).
    for (const shardId of raw.keys()) {
      const expected = written.filter((w) => w.position.partition === shardId).map((w) => w.event.id);
      const seen = handled.filter((h) => h.position.partition === shardId);
      const perSubject = (ids: string[]) => {
        const lanes = new Map<string, string[]>();
        for (const id of ids) {
          const subject = written.find((w) => w.event.id === id)?.event.subject as string;
          lanes.set(subject, [...(lanes.get(subject) ?? []), id]);
        }
        return lanes;
      };
      expect(perSubject(seen.map((h) => h.id))).toEqual(perSubject(expected));
    }
  });

  it('names an aggregate that failed inside by its Kinesis sequence number, with every later record of the shard', async () => {
    // The shard with the most aggregated events; fail the third event of its first aggregate that holds several.
    const shardId = [...raw.keys()].sort(
      (a, b) =>
        written.filter((w) => w.position.partition === b && w.position.offset.includes('.')).length -
        written.filter((w) => w.position.partition === a && w.position.offset.includes('.')).length,
    )[0] as string;
    const records = raw.get(shardId) as _Record[];
    const target = written.find((w) => w.position.partition === shardId && w.position.offset.endsWith('.2')) as (typeof written)[number];
    const [sequence] = target.position.offset.split('.') as [string];
    const ran: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      retry: { attempts: 1 },
      hooks: { onError: () => {} },
      handlers: {
        'cart/add': (event, context) => {
          ran.push(context.position.offset);
          if (event.id === target.event.id) throw new Error('payment service down');
        },
      },
    });
    const response = await handler({ Records: records.map((r) => asLambdaRecord(stream, shardId, r)) }, lambdaContext());
    const index = records.findIndex((r) => r.SequenceNumber === sequence);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.slice(index).map((r) => r.SequenceNumber));
    // The aggregate's records before the failure ran (they run again on Lambda's retry); none of its subject after it.
    expect(ran).toContain(`${sequence}.0`);
    expect(ran).toContain(`${sequence}.1`);
    expect(ran).not.toContain(`${sequence}.3`);
  });
});
