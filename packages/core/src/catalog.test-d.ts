import { describe, expectTypeOf, it } from 'vitest';
import {
  type AnyEventDefinition,
  type Catalog,
  type DataOf,
  defineCatalog,
  defineEvent,
  type EventOf,
  type EventTypeOf,
  type HandlerMap,
  ignore,
} from './catalog.js';
import { createEvent, validateEvent } from './create-event.js';
import type { Either } from './either.js';
import type { Envelope } from './envelope.js';
import type { UnknownEventTypeError, ValidationError } from './errors.js';
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
    createEvent(catalog, 'product/purchase', 's', { id: 'p', quantity: 1 }, { source: 'x' });
    // @ts-expect-error quantity must be a number
    createEvent(catalog, 'product/purchase', 's', { id: 'p', quantity: '1' }, { source: 'x' });
    // @ts-expect-error not a type of the catalog
    createEvent(catalog, 'product/delete', 's', { id: 'p' }, { source: 'x' });
    // @ts-expect-error an unknown field
    createEvent(catalog, 'product/purchase', 's', { id: 'p', quantity: 1, note: 'gift' }, { source: 'x' });
    // @ts-expect-error source is required
    createEvent(catalog, 'product/purchase', 's', { id: 'p', quantity: 1 }, {});
    validateEvent(catalog, 'product/create', { id: 'p', name: 'Boot' });
    // @ts-expect-error name is missing
    validateEvent(catalog, 'product/create', { id: 'p' });
    // @ts-expect-error not a type of the catalog
    validateEvent(catalog, 'product/delete', { id: 'p' });
  });

  it('types the event createEvent returns by its type, and what validateEvent returns', () => {
    const event = createEvent(catalog, 'product/create', 's', { id: 'p', name: 'Boot' }, { source: 'x' });
    expectTypeOf(event).toEqualTypeOf<Envelope<'product/create', unknown>>();
    expectTypeOf(validateEvent(catalog, 'product/create', { id: 'p', name: 'Boot' })).toEqualTypeOf<
      Either<ValidationError | UnknownEventTypeError, unknown>
    >();
  });

  it('writes a renamed type under its current name only', () => {
    const renamed = defineCatalog([defineEvent('product/created', { data: { id: t.string }, renamedFrom: ['product/create'] })]);
    createEvent(renamed, 'product/created', 's', { id: 'p' }, { source: 'x' });
    // @ts-expect-error a former name is read, never written
    createEvent(renamed, 'product/create', 's', { id: 'p' }, { source: 'x' });
  });

  it('writes with a catalog passed on generically, as a producer holds it', () => {
    function write<Defs extends AnyEventDefinition, T extends Defs['type']>(on: Catalog<Defs>, type: T, data: DataOf<Defs, T>) {
      return createEvent(on, type, 's', data, { source: 'x' });
    }
    write(catalog, 'product/purchase', { id: 'p', quantity: 1 });
    // @ts-expect-error quantity must be a number
    write(catalog, 'product/purchase', { id: 'p', quantity: '1' });
  });

  it('takes any payload for an untyped catalog', () => {
    // biome-ignore lint/suspicious/noExplicitAny: what a catalog loaded from a JavaScript file is typed as
    const untyped = catalog as Catalog<any>;
    createEvent(untyped, 'product/create', 's', { id: 'p', title: 'Old' }, { source: 'x' });
    validateEvent(untyped, 'anything', 42);
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
    createEvent(withColor, 'product/create', 's', { id: 'p' }, { source: 'x' });
    createEvent(withColor, 'product/create', 's', { id: 'p', color: 'red' }, { source: 'x' });
    // @ts-expect-error color must be a string
    createEvent(withColor, 'product/create', 's', { id: 'p', color: 1 }, { source: 'x' });
    expectTypeOf<Extract<EventOf<typeof withColor>, { type: 'product/create' }>['data']>().toEqualTypeOf<{
      id: string;
      color?: string | undefined;
    }>();
  });
});
