import { describe, expectTypeOf, it } from 'vitest';
import { defineCatalog, defineEvent, type EventOf, type EventTypeOf, type HandlerMap, ignore } from './catalog.js';
import { optional, t } from './index.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } }),
]);
type Event = EventOf<typeof catalog>;

describe('catalog types', () => {
  it('infers the union of types and payloads', () => {
    expectTypeOf<EventTypeOf<typeof catalog>>().toEqualTypeOf<'product/create' | 'product/purchase'>();
    expectTypeOf<Extract<Event, { type: 'product/purchase' }>['data']>().toEqualTypeOf<{ id: string; quantity: number }>();
  });

  it('checks payloads at compile time', () => {
    catalog.create('product/purchase', 's', { id: 'p', quantity: 1 }, { source: 'x' });
    // @ts-expect-error quantity must be a number
    catalog.create('product/purchase', 's', { id: 'p', quantity: '1' }, { source: 'x' });
    // @ts-expect-error not a type of the catalog
    catalog.create('product/delete', 's', { id: 'p' }, { source: 'x' });
  });

  it('requires a handler map to cover every type or ignore it', () => {
    const complete: HandlerMap<Event> = {
      'product/create': (event) => {
        expectTypeOf(event.data.name).toEqualTypeOf<string>();
      },
      'product/purchase': ignore,
    };
    expectTypeOf(complete).not.toBeAny();
    // @ts-expect-error 'product/purchase' is missing
    const incomplete: HandlerMap<Event> = { 'product/create': () => {} };
    expectTypeOf(incomplete).not.toBeAny();
  });

  it('makes optional() fields optional keys, for producers and handlers', () => {
    const withColor = defineCatalog([defineEvent('product/create', { data: { id: t.string, color: optional(t.string) } })]);
    withColor.create('product/create', 's', { id: 'p' }, { source: 'x' });
    withColor.create('product/create', 's', { id: 'p', color: 'red' }, { source: 'x' });
    // @ts-expect-error color must be a string
    withColor.create('product/create', 's', { id: 'p', color: 1 }, { source: 'x' });
    expectTypeOf<Extract<EventOf<typeof withColor>, { type: 'product/create' }>['data']>().toEqualTypeOf<{
      id: string;
      color?: string | undefined;
    }>();
  });
});
