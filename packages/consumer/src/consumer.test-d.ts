import {
  defineCatalog,
  defineEvent,
  type Envelope,
  ignore,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLog,
  type Position,
  t,
} from '@riverlog/core';
import type { Context, KinesisStreamBatchResponse } from 'aws-lambda';
import { describe, expectTypeOf, it } from 'vitest';
import { createConsumer } from './consumer.js';
import { kafkaHandler, kinesisHandler } from './lambda/index.js';
import type { ConsumerHandlers, HandlerContext } from './types.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/image', { data: { id: t.string, image: t.string } }),
]);
const base = { log: memoryLog(), catalog, group: 'g', checkpoints: memoryCheckpointStore(), deadLetters: memoryDeadLetters() };

describe('createConsumer types', () => {
  it('infers each handler event, narrowed by type, without annotations', () => {
    createConsumer({
      ...base,
      handlers: {
        'product/create': async (event, context) => {
          expectTypeOf(event.type).toEqualTypeOf<'product/create'>();
          expectTypeOf(event.data).toEqualTypeOf<{ id: string; name: string }>();
          expectTypeOf(context).toEqualTypeOf<HandlerContext>();
          expectTypeOf(context.position).toEqualTypeOf<Position>();
          expectTypeOf(context.attempt).toEqualTypeOf<number>();
          expectTypeOf(context.signal).toEqualTypeOf<AbortSignal>();
        },
        'product/image': (event) => {
          expectTypeOf(event.data).toEqualTypeOf<{ id: string; image: string }>();
        },
      },
      hooks: {
        onHandled: ({ event }) => {
          expectTypeOf(event.type).toEqualTypeOf<'product/create' | 'product/image'>();
        },
      },
    });
  });

  it('requires a handler or ignore for every type (exhaustive)', () => {
    createConsumer({
      ...base,
      // @ts-expect-error 'product/image' is missing
      handlers: { 'product/create': ignore },
    });
    createConsumer({ ...base, handlers: { 'product/create': ignore, 'product/image': ignore } });
  });

  it('refuses types the catalog does not define, and handlers for the wrong event', () => {
    createConsumer({
      ...base,
      handlers: {
        'product/create': ignore,
        'product/image': ignore,
        // @ts-expect-error not in the catalog
        'product/delete': ignore,
      },
    });
    createConsumer({
      ...base,
      handlers: {
        'product/create': ignore,
        // @ts-expect-error the image handler cannot take a create event
        'product/image': (event: Envelope<'product/create', { id: string; name: string }>) => {
          void event;
        },
      },
    });
  });

  it('refuses handlers that return something other than void or a promise of void', () => {
    createConsumer({
      ...base,
      handlers: {
        'product/create': ignore,
        // @ts-expect-error returns a number
        'product/image': async () => 42,
      },
    });
  });
});

describe('Lambda adapter types', () => {
  it('infers the same events and adds the Lambda context', () => {
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      handlers: {
        'product/create': (event, context) => {
          expectTypeOf(event.data.name).toEqualTypeOf<string>();
          expectTypeOf(context.lambda).toEqualTypeOf<Context>();
        },
        'product/image': ignore,
      },
    });
    expectTypeOf(handler).returns.resolves.toEqualTypeOf<KinesisStreamBatchResponse>();
    const kafka = kafkaHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      // @ts-expect-error 'product/image' is missing
      handlers: { 'product/create': ignore },
    });
    expectTypeOf(kafka).returns.resolves.toHaveProperty('batchItemFailures');
  });

  it('accepts the handlers written for createConsumer', () => {
    const shared: ConsumerHandlers<typeof catalog> = {
      'product/create': async (event, context) => {
        expectTypeOf(event.data.id).toEqualTypeOf<string>();
        void context.position;
      },
      'product/image': ignore,
    };
    kinesisHandler({ catalog, deadLetters: memoryDeadLetters(), handlers: shared });
    kafkaHandler({ catalog, deadLetters: memoryDeadLetters(), handlers: shared });
    createConsumer({ ...base, handlers: shared });
  });
});
