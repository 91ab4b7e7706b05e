// What the CloudEvents tests share: a catalog with every attribute riverlog writes, the official SDK's
// checks (cloudevents 10), and the records that make each kind of dead letter.

import { createEvent, defineCatalog, defineEvent, type Envelope, pastVersion, strict, t } from '@riverlog/core';
import { CloudEvent, type Message } from 'cloudevents';
import { expect } from 'vitest';

/** `product/create` version 2 (version 1 upcast), and a type that never changed. */
export const ProductCreated = defineEvent('product/create', {
  version: 2,
  data: { id: t.string, name: t.string, brand: t.string },
  history: [pastVersion(1, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown' }))],
});
export const ProductPriced = defineEvent('product/price', { data: { id: t.string, cents: t.number, tags: t.array(t.string) } });
export const catalog = defineCatalog([ProductCreated, ProductPriced]);
/** The same events under an https `dataschema` base. */
export const httpsCatalog = defineCatalog([ProductCreated, ProductPriced], { dataschemaBase: 'https://schemas.shop.example/events/' });
/** What a producer one version ahead writes: readers on `catalog` stop at it (or dead-letter it). */
export const aheadCatalog = defineCatalog([
  defineEvent('product/create', {
    version: 3,
    data: { id: t.string, name: t.string, brand: t.string, origin: t.string },
    history: [
      pastVersion(1, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown' })),
      pastVersion(2, strict({ id: t.string, name: t.string, brand: t.string }), (d) => ({ ...d, origin: 'unknown' })),
    ],
  }),
  ProductPriced,
]);

export const source = 'https://shop.example/web';

/** Events with every optional attribute riverlog writes, text that is not ASCII, and both bases. */
export function sampleEvents(subjects: readonly string[]): Envelope[] {
  return subjects.flatMap((subject, i) => [
    createEvent(catalog, 'product/create', subject, { id: subject, name: `Bottes « ${subject} » 🥾`, brand: 'Acme' }, { source }),
    createEvent(
      catalog,
      'product/price',
      subject,
      { id: subject, cents: 1999 + i, tags: ['sale', 'é'] },
      {
        source: `${source}/prices`,
        correlationid: `order-${i}`,
        causationid: '01HX0000000000000000000000',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        time: new Date(Date.UTC(2024, 4, 1, 10, 0, i)),
      },
    ),
    createEvent(httpsCatalog, 'product/create', subject, { id: subject, name: `${subject} (https)`, brand: 'Acme' }, { source }),
  ]);
}

/**
 * A good event and one of each kind a reader refuses: a type the catalog does
 * not know, a newer version, a payload failing its schema; and one whose
 * handler the tests make fail (`boom`).
 */
export function troubleEvents(): Record<'good' | 'unknownType' | 'newer' | 'invalid' | 'failing', Envelope> {
  const good = createEvent(catalog, 'product/create', 'ok', { id: 'ok', name: 'Boot', brand: 'Acme' }, { source });
  const newer = createEvent(
    aheadCatalog,
    'product/create',
    'ahead',
    { id: 'ahead', name: 'Boot', brand: 'Acme', origin: 'FR' },
    { source },
  );
  const priced = createEvent(catalog, 'product/price', 'bad', { id: 'bad', cents: 1, tags: [] }, { source });
  return {
    good,
    unknownType: { ...good, id: 'unknown-type', type: 'product/recall', dataschema: 'urn:riverlog:product/recall/v1' } as Envelope,
    newer,
    invalid: { ...priced, data: { id: 'bad', cents: '1' } } as Envelope,
    failing: createEvent(catalog, 'product/price', 'boom', { id: 'boom', cents: 1, tags: [] }, { source }),
  };
}

/**
 * The SDK's judgement of a structured event (a JSON object): its constructor
 * in strict mode validates against the CloudEvents 1.0 schema (attribute
 * names and types, `dataschema` a URI, `time` RFC 3339, ...), and
 * `validate()` again.
 */
export function expectSdkAccepts(event: unknown, where: string): CloudEvent<unknown> {
  let parsed: CloudEvent<unknown> | undefined;
  expect(
    () => {
      parsed = new CloudEvent(JSON.parse(JSON.stringify(event)) as Record<string, unknown>, true);
    },
    `${where}: the CloudEvents SDK refuses ${JSON.stringify(event)}`,
  ).not.toThrow();
  expect(parsed?.validate(), where).toBe(true);
  return parsed as CloudEvent<unknown>;
}

/**
 * A record as a Kafka client hands it over (`Buffer`s) as the SDK's
 * `Kafka.toEvent` takes it: the SDK leaves the bytes to the client, so
 * header values become text here and the value stays bytes.
 */
export function sdkKafkaMessage(record: {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  timestamp: string;
}): Message & { key: string | undefined; value: Buffer | null; timestamp: string } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return { headers, key: record.key?.toString(), value: record.value, body: record.value, timestamp: record.timestamp };
}
