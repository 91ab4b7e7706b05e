import { type kafkaHandler, kinesisHandler } from '@riverlog/consumer/lambda';
import { createEvent, memoryDeadLetters } from '@riverlog/core';
import type {
  Context,
  KinesisStreamEvent,
  KinesisStreamHandler,
  MSKEvent,
  MSKHandler,
  SelfManagedKafkaEvent,
  SelfManagedKafkaHandler,
} from 'aws-lambda';
import { describe, expectTypeOf, it } from 'vitest';
import { kinesisEvent, lambdaContext, mskEvent, selfManagedKafkaEvent } from './kit.js';
import { shop } from './shop.fixture.js';

const created = createEvent(shop, 'product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'test' });
const handlers = { 'product/create': () => {}, 'product/purchase': () => {}, 'product/rename': () => {} };

describe('the Lambda event builders match @types/aws-lambda', () => {
  it('kinesisEvent is a KinesisStreamEvent, and what kinesisHandler and a KinesisStreamHandler take', () => {
    expectTypeOf(kinesisEvent([created])).toEqualTypeOf<KinesisStreamEvent>();
    expectTypeOf(kinesisEvent([created])).toMatchTypeOf<Parameters<ReturnType<typeof kinesisHandler>>[0]>();
    expectTypeOf(kinesisEvent([created])).toMatchTypeOf<Parameters<KinesisStreamHandler>[0]>();
    expectTypeOf(kinesisHandler({ catalog: shop, deadLetters: memoryDeadLetters(), handlers })).toMatchTypeOf<
      (event: ReturnType<typeof kinesisEvent>, context: ReturnType<typeof lambdaContext>) => Promise<unknown>
    >();
  });

  it('mskEvent is an MSKEvent and selfManagedKafkaEvent a SelfManagedKafkaEvent, both taken by kafkaHandler', () => {
    expectTypeOf(mskEvent([created])).toEqualTypeOf<MSKEvent>();
    expectTypeOf(mskEvent([created], { mode: 'binary' })).toMatchTypeOf<Parameters<MSKHandler>[0]>();
    expectTypeOf(selfManagedKafkaEvent([created])).toEqualTypeOf<SelfManagedKafkaEvent>();
    expectTypeOf(selfManagedKafkaEvent([created])).toMatchTypeOf<Parameters<SelfManagedKafkaHandler>[0]>();
    expectTypeOf(mskEvent([created])).toMatchTypeOf<Parameters<ReturnType<typeof kafkaHandler>>[0]>();
    expectTypeOf(selfManagedKafkaEvent([created])).toMatchTypeOf<Parameters<ReturnType<typeof kafkaHandler>>[0]>();
  });

  it('lambdaContext is a Context; raw records and envelopes are accepted, other values are not', () => {
    expectTypeOf(lambdaContext()).toEqualTypeOf<Context>();
    kinesisEvent([created, { raw: 'bytes', key: 'p1' }, { raw: new Uint8Array([1]) }]);
    // @ts-expect-error a number is not an envelope nor raw bytes
    kinesisEvent([42]);
    // @ts-expect-error the mode is structured or binary
    mskEvent([created], { mode: 'avro' });
  });
});
