import { kafkaHandler, kinesisHandler } from '@riverlog/consumer/lambda';
import { createEvent, type DeadLetter, ignore, memoryDeadLetters } from '@riverlog/core';
import { describe, expect, it } from 'vitest';
import { kinesisEvent, lambdaContext, mskEvent, selfManagedKafkaEvent } from './kit.js';
import { shop } from './shop.fixture.js';

const create = (id: string) => createEvent(shop, 'product/create', id, { id, name: `Product ${id}` }, { source: 'test' });
const buy = (id: string, buyer: string) => createEvent(shop, 'product/purchase', id, { id, buyer }, { source: 'test' });

/** Handlers that record what they ran and fail for the buyer "flaky". */
function recording() {
  const handled: string[] = [];
  const handlers = {
    'product/create': (event: { subject: string; type: string }) => {
      handled.push(`${event.type} ${event.subject}`);
    },
    'product/purchase': (event: { subject: string; type: string; data: { buyer: string } }) => {
      if (event.data.buyer === 'flaky') throw new Error('payment service down');
      handled.push(`${event.type} ${event.subject} ${event.data.buyer}`);
    },
    'product/rename': ignore,
  };
  return { handled, handlers };
}

const codes = (letters: readonly DeadLetter[]) =>
  letters.map((l) => `${l.code} ${l.record.position.partition}@${l.record.position.offset}`);

describe('kinesisEvent', () => {
  it('makes records kinesisHandler decodes, in order, each subject on its shard, with sequence numbers past 2^53', async () => {
    const { handled, handlers } = recording();
    const deadLetters = memoryDeadLetters();
    const handler = kinesisHandler({ catalog: shop, deadLetters, handlers });
    const event = kinesisEvent([create('p1'), buy('p1', 'ann'), create('p2'), buy('p2', 'ben')], { shards: 2 });
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(handled.filter((h) => h.endsWith('p1') || h.includes(' p1 '))).toEqual(['product/create p1', 'product/purchase p1 ann']);
    expect(handled).toHaveLength(4);
    const sequence = event.Records.map((r) => r.kinesis.sequenceNumber);
    expect(sequence.every((s) => s.length === 56 && BigInt(s) > 2n ** 53n)).toBe(true);
    expect(new Set(event.Records.map((r) => r.eventID.split(':')[0])).size).toBe(2);
    expect(event.Records.map((r) => r.kinesis.partitionKey)).toEqual(['p1', 'p1', 'p2', 'p2']);
    expect(deadLetters.letters).toEqual([]);
  });

  it('lets a test assert batchItemFailures: a failing record and every later one of its shard', async () => {
    const { handlers } = recording();
    const handler = kinesisHandler({
      catalog: shop,
      deadLetters: memoryDeadLetters(),
      handlers,
      retry: { attempts: 2, initialMs: 1, maxMs: 1 },
    });
    const event = kinesisEvent([create('p1'), buy('p1', 'flaky'), create('p2')]);
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: event.Records[1]?.kinesis.sequenceNumber },
      { itemIdentifier: event.Records[2]?.kinesis.sequenceNumber },
    ]);
  });

  it('carries raw bytes as they are: the adapter dead-letters them and goes on', async () => {
    const { handled, handlers } = recording();
    const deadLetters = memoryDeadLetters();
    const handler = kinesisHandler({ catalog: shop, deadLetters, handlers });
    const event = kinesisEvent([{ raw: '{"specversion": "1.0", ', key: 'p9' }, create('p1')]);
    expect(await handler(event, lambdaContext({ functionName: 'shop-consumer' }))).toEqual({ batchItemFailures: [] });
    expect(handled).toEqual(['product/create p1']);
    expect(deadLetters.letters.map((l) => [l.group, l.code, l.record.raw])).toEqual([
      ['shop-consumer', 'DECODE_FAILED', '{"specversion": "1.0", '],
    ]);
  });
});

describe('mskEvent and selfManagedKafkaEvent', () => {
  for (const mode of ['structured', 'binary'] as const) {
    it(`make ${mode}-mode records kafkaHandler decodes, keyed <topic>-<partition>`, async () => {
      const { handled, handlers } = recording();
      const deadLetters = memoryDeadLetters();
      const handler = kafkaHandler({ catalog: shop, deadLetters, handlers });
      const msk = mskEvent([create('p1'), buy('p1', 'ann'), create('p2')], { mode, topic: 'shop', partitions: 3 });
      expect(await handler(msk, lambdaContext())).toEqual({ batchItemFailures: [] });
      expect(handled.filter((h) => h.includes('p1'))).toEqual(['product/create p1', 'product/purchase p1 ann']);
      expect(handled).toHaveLength(3);
      for (const [key, records] of Object.entries(msk.records)) {
        expect(records.every((r) => key === `shop-${r.partition}` && r.topic === 'shop')).toBe(true);
      }
      const first = Object.values(msk.records).flat()[0];
      if (mode === 'binary') expect(first?.headers.some((h) => 'ce_specversion' in h)).toBe(true);
      else expect(Object.keys(first?.headers[0] ?? {})).toEqual(['content-type']);

      const selfManaged = selfManagedKafkaEvent([buy('p2', 'cy')], { mode });
      expect(selfManaged.eventSource).toBe('SelfManagedKafka');
      expect(await handler(selfManaged, lambdaContext())).toEqual({ batchItemFailures: [] });
      expect(handled.at(-1)).toBe('product/purchase p2 cy');
      expect(deadLetters.letters).toEqual([]);
    });
  }

  it('lets a test assert batchItemFailures by topic-partition and offset, and dead letters of raw bytes', async () => {
    const { handlers } = recording();
    const deadLetters = memoryDeadLetters();
    const handler = kafkaHandler({ catalog: shop, deadLetters, handlers, retry: { attempts: 1 } });
    const event = mskEvent([create('p1'), { raw: 'not json', key: 'p1' }, buy('p1', 'flaky'), buy('p1', 'ann')], { firstOffset: 100 });
    const response = await handler(event, lambdaContext());
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      { partition: 'riverlog-0', offset: 102 },
      { partition: 'riverlog-0', offset: 103 },
    ]);
    expect(codes(deadLetters.letters)).toEqual(['DECODE_FAILED riverlog-0@101']);
  });
});
