// The Lambda Kinesis adapter and KPL aggregates: Lambda hands aggregated records over as they are.
import { createEvent, defineCatalog, defineEvent, memoryDeadLetters, t } from '@riverlog/core';
import { encodeKinesisAggregate } from '@riverlog/core/backend';
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { kinesisHandler } from './kinesis.js';

const catalog = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string } })]);
const create = (subject: string, name = subject) =>
  createEvent(catalog, 'product/create', subject, { id: subject, name }, { source: 'test' });
const json = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

const SHARD = 'shardId-000000000003';
const seq = (n: number) => `4959033827149025660855969253836157109592157598913658${String(n).padStart(4, '0')}`;

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'retail-consumer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:retail-consumer',
    memoryLimitInMB: '256',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/retail-consumer',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function kinesisRecord(n: number, partitionKey: string, data: Uint8Array | string): KinesisStreamRecord {
  return {
    awsRegion: 'eu-west-1',
    eventID: `${SHARD}:${seq(n)}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail',
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/retail-consumer',
    kinesis: {
      approximateArrivalTimestamp: 1_714_557_600,
      data: typeof data === 'string' ? data : Buffer.from(data).toString('base64'),
      kinesisSchemaVersion: '1.0',
      partitionKey,
      sequenceNumber: seq(n),
    },
  };
}

const aggregate = (partitionKey: string, ...values: unknown[]) =>
  encodeKinesisAggregate(values.map((value) => ({ partitionKey, data: json(value) })));
const event = (...records: KinesisStreamRecord[]): KinesisStreamEvent => ({ Records: records });

describe('kinesisHandler with KPL aggregates', () => {
  it('runs the user records of an aggregate in order, at <sequence number>.<index>, between plain records', async () => {
    const handled: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      handlers: { 'product/create': (e, context) => void handled.push(`${e.data.name}@${context.position.offset.slice(-6)}`) },
    });
    const response = await handler(
      event(
        kinesisRecord(1, 'a', json(create('a', 'a1'))),
        kinesisRecord(2, 'a', aggregate('a', create('a', 'a2'), create('a', 'a3'), create('a', 'a4'))),
        kinesisRecord(3, 'a', json(create('a', 'a5'))),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handled).toEqual(['a1@580001', 'a2@0002.0', 'a3@0002.1', 'a4@0002.2', 'a5@580003']);
  });

  it('runs each user record in the lane of its own partition key (the KPL packs several keys in one record)', async () => {
    const order: string[] = [];
    let releaseA: () => void = () => {};
    const aBlocked = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      handlers: {
        'product/create': async (e) => {
          if (e.data.name === 'a1') await aBlocked;
          order.push(e.data.name);
          if (e.data.name === 'b1') releaseA();
        },
      },
    });
    const mixed = encodeKinesisAggregate([
      { partitionKey: 'a', data: json(create('a', 'a1')) },
      { partitionKey: 'b', data: json(create('b', 'b1')) },
      { partitionKey: 'a', data: json(create('a', 'a2')) },
    ]);
    await handler(event(kinesisRecord(1, 'a', mixed)), lambdaContext());
    // b1 ran while a1 waited (another lane); a2 waited for a1 (the same lane).
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });

  it('names a failing aggregate once, by its sequence number, with every later record; nothing after the failure ran', async () => {
    const ran: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      retry: { attempts: 2, initialMs: 1, maxMs: 2 },
      hooks: { onError: () => {} },
      handlers: {
        'product/create': (e) => {
          ran.push(e.data.name);
          if (e.data.name === 'a3') throw new Error('stock service down');
        },
      },
    });
    const response = await handler(
      event(
        kinesisRecord(1, 'a', json(create('a', 'a1'))),
        kinesisRecord(2, 'a', aggregate('a', create('a', 'a2'), create('a', 'a3'), create('a', 'a4'))),
        kinesisRecord(3, 'a', json(create('a', 'a5'))),
      ),
      lambdaContext(),
    );
    // Lambda resumes at seq(2): a2 runs again on the retry (documented), a4 and a5 never ran before a3.
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }, { itemIdentifier: seq(3) }] });
    expect(ran).toEqual(['a1', 'a2', 'a3', 'a3']);
  });

  it('dead-letters a poison user record at its own offset, names the reason, and goes on with the aggregate', async () => {
    const deadLetters = memoryDeadLetters();
    const handled: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters,
      onUnreadable: 'dead-letter',
      handlers: { 'product/create': (e) => void handled.push(e.data.name) },
    });
    const response = await handler(
      event(
        kinesisRecord(
          4,
          'a',
          aggregate('a', create('a', 'a1'), '{"not json', { ...create('a'), data: { id: 'a', name: 5 } }, create('a', 'a2')),
        ),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handled).toEqual(['a1', 'a2']);
    expect(deadLetters.letters.map((l) => [l.record.position.partition, l.record.position.offset, l.code])).toEqual([
      [SHARD, `${seq(4)}.1`, 'DECODE_FAILED'],
      [SHARD, `${seq(4)}.2`, 'DECODE_FAILED'],
    ]);
    expect(deadLetters.letters[0]?.reason).toContain('record data is not JSON');
    expect(deadLetters.letters[0]?.record.raw).toBe('{"not json');
    expect(deadLetters.letters[1]?.reason).toContain('data.name: expected string, got 5');
  });

  it('dead-letters data that is not base64 (truncated in transit) instead of decoding other bytes from it', async () => {
    const deadLetters = memoryDeadLetters();
    const handled: string[] = [];
    const handler = kinesisHandler({ catalog, deadLetters, handlers: { 'product/create': (e) => void handled.push(e.data.name) } });
    const whole = Buffer.from(JSON.stringify(create('a', 'a1'))).toString('base64');
    const response = await handler(
      event(kinesisRecord(1, 'a', whole.slice(0, -3)), kinesisRecord(2, 'a', '*not base64*'), kinesisRecord(3, 'a', whole)),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handled).toEqual(['a1']);
    expect(deadLetters.letters.map((l) => l.record.position.offset)).toEqual([seq(1), seq(2)]);
    for (const letter of deadLetters.letters) expect(letter.reason).toContain('not valid base64');
    expect(deadLetters.letters[0]?.record.raw).toBe(whole.slice(0, -3));
  });

  it('takes an aggregate whose MD5 does not match as a plain record (and dead-letters it: not JSON)', async () => {
    const deadLetters = memoryDeadLetters();
    const handler = kinesisHandler({ catalog, deadLetters, handlers: { 'product/create': () => {} } });
    const bytes = Uint8Array.from(aggregate('a', create('a')));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    const response = await handler(event(kinesisRecord(1, 'a', bytes)), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(deadLetters.letters.map((l) => [l.record.position.offset, l.code])).toEqual([[seq(1), 'DECODE_FAILED']]);
  });
});
