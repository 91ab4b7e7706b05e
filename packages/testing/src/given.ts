import {
  type AnyEventDefinition,
  type Catalog,
  createEvent,
  type DataOf,
  type EventMeta,
  type EventTypeOf,
  type StoredEvent,
} from '@riverlog/core';

/** The event definitions of a catalog. */
export type DefinitionsOf<C> = C extends Catalog<infer Defs> ? Defs : never;

/** Any catalog. */
export type AnyCatalog = Catalog<AnyEventDefinition>;

/**
 * An event as `createEvent` would make it, written as one object: type,
 * subject and payload (checked against the catalog at compile time), any
 * envelope metadata (`source`, `id`, `time`, …) and, optionally, the
 * partition it sits in.
 *
 * @example
 * const created: CreateInput<typeof catalog> = { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' }, source: 'shop/u1' };
 */
export type CreateInput<C extends AnyCatalog> = {
  readonly [T in EventTypeOf<C>]: {
    readonly type: T;
    readonly subject: string;
    readonly data: DataOf<DefinitionsOf<C>, T>;
    /** The partition the event sits in. Default: see the spec's `partitionBy`. */
    readonly partition?: string;
  } & EventMeta;
}[EventTypeOf<C>];

/** An envelope you made yourself (e.g. an old version, to test upcasting), placed in a partition. */
export interface PlacedEvent {
  readonly event: StoredEvent;
  readonly partition: string;
}

/**
 * What a spec is given: an envelope (from `createEvent`, a producer, a
 * fixture), an envelope placed in a partition, or a {@link CreateInput}.
 *
 * @example
 * const given: GivenEvent<typeof catalog>[] = [
 *   createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'shop' }),
 *   { type: 'product/purchase', subject: 'p1', data: { id: 'p1' } },
 *   { event: legacyEnvelope, partition: 'shard-1' },
 * ];
 */
export type GivenEvent<C extends AnyCatalog> = StoredEvent | PlacedEvent | CreateInput<C>;

/** A given event made into an envelope: its number in the list (from 1) and its partition when one was named. */
export interface GivenItem {
  /** 1 for the first event given. */
  readonly number: number;
  readonly event: StoredEvent;
  readonly partition: string | undefined;
}

/** The `source` of events given without one. */
export const DEFAULT_SOURCE = 'riverlog/testing';

const isPlaced = (value: object): value is PlacedEvent => 'event' in value && 'partition' in value && !('specversion' in value);

/** Makes the given events envelopes (creating those written as {@link CreateInput}), numbered from 1. */
export function toItems(catalog: AnyCatalog, given: readonly unknown[]): GivenItem[] {
  return given.map((value, i) => {
    const number = i + 1;
    if (typeof value !== 'object' || value === null) {
      throw new TypeError(
        `given event ${number} must be an envelope, { event, partition } or { type, subject, data }; got ${String(value)}.`,
      );
    }
    if (isPlaced(value)) return { number, event: value.event, partition: value.partition };
    if ('specversion' in value) return { number, event: value as StoredEvent, partition: undefined };
    const { type, subject, data, partition, source, ...meta } = value as CreateInput<AnyCatalog> & { source?: string };
    const event = createEvent(catalog, type, subject, data as never, { source: source ?? DEFAULT_SOURCE, ...meta });
    return { number, event, partition };
  });
}

/** One line naming a given event, for messages: `#3 product/purchase p1`. */
export function nameOf(item: GivenItem): string {
  return `#${item.number} ${item.event.type} ${JSON.stringify(item.event.subject)}`;
}
