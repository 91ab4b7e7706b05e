import { defineCatalog, defineEvent, memoryLog, t } from '@riverlog/core';
import { describe, expectTypeOf, it } from 'vitest';
import { createProducer, type EmitItem, type Emitted, type Producer } from './producer.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } }),
]);
const producer = createProducer({ log: memoryLog(), catalog, source: 'types' });

describe('producer types', () => {
  it('infers the catalog from the options', () => {
    expectTypeOf(producer).toEqualTypeOf<Producer<(typeof catalog.definitions)[number]>>();
    expectTypeOf(producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' })).toEqualTypeOf<Promise<Emitted>>();
    expectTypeOf(producer.emitMany([])).toEqualTypeOf<Promise<Emitted[]>>();
  });

  it('checks emit payloads against their type at compile time', () => {
    producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 2 }, { correlationid: 'c1', time: new Date() });
    // @ts-expect-error quantity must be a number
    producer.emit('product/purchase', 'p1', { id: 'p1', quantity: '2' });
    // @ts-expect-error name belongs to product/create, quantity is missing
    producer.emit('product/purchase', 'p1', { id: 'p1', name: 'Boot' });
    // @ts-expect-error not a type of the catalog
    producer.emit('product/delete', 'p1', { id: 'p1' });
    producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'shop/merchant/ann' });
    // @ts-expect-error meta has no field `sauce`
    producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { sauce: 'else' });
  });

  it('checks each emitMany item against its own type', () => {
    producer.emitMany([
      { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } },
      { type: 'product/purchase', subject: 'p1', data: { id: 'p1', quantity: 1 }, meta: { causationid: 'x' } },
    ]);
    // @ts-expect-error the purchase item carries a create payload
    producer.emitMany([{ type: 'product/purchase', subject: 'p1', data: { id: 'p1', name: 'Boot' } }]);
    // @ts-expect-error not a type of the catalog
    producer.emitMany([{ type: 'product/delete', subject: 'p1', data: { id: 'p1' } }]);
    expectTypeOf<EmitItem<(typeof catalog.definitions)[number]>['type']>().toEqualTypeOf<'product/create' | 'product/purchase'>();
  });
});
