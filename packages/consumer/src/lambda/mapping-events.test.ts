// The Lambda event builders with records read from a log: positions kept (riverlog lambda), and the
// adapters read them back at those positions.
import { createEvent, defineCatalog, defineEvent, type LogRecord, memoryDeadLetters, RiverlogError, t } from '@riverlog/core';
import { describe, expect, it } from 'vitest';
import { kafkaHandler } from './kafka.js';
import { kinesisHandler } from './kinesis.js';
import { kinesisEvent, lambdaContext, mskEvent } from './mapping-events.js';

const catalog = defineCatalog([defineEvent('product/purchase', { data: { id: t.string } })]);
const purchase = (subject: string) => createEvent(catalog, 'product/purchase', subject, { id: subject }, { source: 'test' });

const SHARDS = ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'];
const SEQUENCE = '49590338271490256608559692538361571095921575989136588898';
const at = (partition: string, offset: string, event: unknown, storedAt = 1_767_000_000_000): LogRecord => ({
  position: { partition, offset },
  event,
  storedAt,
});

describe('Lambda events of log records', () => {
  it('kinesisEvent keeps each record’s shard and sequence number (a numbered partition as shardId-…), and the adapter reads them back', async () => {
    const poison: LogRecord = { position: { partition: '2', offset: '17' }, event: undefined, raw: '{oops', error: 'not JSON' };
    const event = kinesisEvent([at(SHARDS[1] as string, SEQUENCE, purchase('p1')), poison], {
      streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/retail',
    });
    expect(event.Records.map((r) => [r.eventID, r.kinesis.sequenceNumber, r.kinesis.partitionKey, r.awsRegion])).toEqual([
      [`${SHARDS[1]}:${SEQUENCE}`, SEQUENCE, 'p1', 'us-east-1'],
      ['shardId-000000000002:17', '17', 'shardId-000000000002', 'us-east-1'],
    ]);
    expect(event.Records[0]?.kinesis.approximateArrivalTimestamp).toBe(1_767_000_000);

    const deadLetters = memoryDeadLetters();
    const seen: string[] = [];
    const handler = kinesisHandler({ catalog, deadLetters, handlers: { 'product/purchase': (e) => void seen.push(e.subject) } });
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['p1']);
    expect(deadLetters.letters.map((l) => l.record.position)).toEqual([{ partition: 'shardId-000000000002', offset: '17' }]);
  });

  it('mskEvent numbers a Kinesis shard by its index in logPartitions (not NaN), a numeric partition by itself', async () => {
    const records = [
      at(SHARDS[2] as string, '5', purchase('p1')),
      at(SHARDS[0] as string, '9', purchase('p2')),
      at('3', '40', purchase('p3')),
    ];
    const event = mskEvent(records, { topic: 'retail', logPartitions: SHARDS });
    const all = Object.values(event.records).flat();
    expect(all.map((r) => [r.partition, r.offset, r.timestamp])).toEqual([
      [2, 5, 1_767_000_000_000],
      [0, 9, 1_767_000_000_000],
      [3, 40, 1_767_000_000_000],
    ]);
    expect(Object.keys(event.records)).toEqual(['retail-2', 'retail-0', 'retail-3']);
    expect(all.every((r) => Number.isInteger(r.partition))).toBe(true);

    const handler = kafkaHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      retry: { attempts: 1 },
      handlers: {
        'product/purchase': (e) => {
          if (e.subject === 'p1') throw new Error('down');
        },
      },
    });
    expect(await handler(event, lambdaContext())).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'retail-2', offset: 5 } }],
    });
  });

  it('mskEvent refuses a partition that is neither a number nor in logPartitions (INVALID_OPTION, naming it)', () => {
    const record = at(SHARDS[1] as string, '5', purchase('p1'));
    for (const options of [{}, { logPartitions: [SHARDS[0] as string] }]) {
      let error: unknown;
      try {
        mskEvent([record], options);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RiverlogError);
      expect(error).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining(SHARDS[1] as string) });
    }
  });

  it('lambdaContext: a new request id per invocation, the function ARN in the region given, time left running down', () => {
    const [a, b] = [lambdaContext({ functionName: 'fn', region: 'us-east-1', remainingMs: 5000 }), lambdaContext()];
    expect(a.awsRequestId).not.toBe(b.awsRequestId);
    expect(a.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:123456789012:function:fn');
    expect(a.getRemainingTimeInMillis()).toBeLessThanOrEqual(5000);
    expect(a.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });
});
