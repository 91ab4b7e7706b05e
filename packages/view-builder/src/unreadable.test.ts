// Issue 9, finding 1: an event of a type the view folds that this catalog
// cannot read yet (a newer version, a payload that fails its schema) never
// moves the view past it silently.
import {
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  memoryDeadLetters,
  memoryLog,
  memoryViewStore,
  partitionForSubject,
  pastVersion,
  strict,
  t,
} from '@riverlog/core';
import { until } from '@riverlog/testing';
import { describe, expect, test } from 'vitest';
import { defineView } from './define-view.js';
import { catalog, purchased } from './retail.fixture.js';
import { runView } from './run-view.js';
import type { SkippedRecord } from './skips.js';

/** Purchases per product. */
const counts = defineView({
  name: 'counts',
  version: 1,
  catalog,
  initial: { n: 0 },
  apply: { 'product/purchase': (row) => ({ n: row.n + 1 }) },
});

/** The catalog deployed later: `product/purchase` version 2 adds a quantity; version 1 events are upcast. */
const catalogV2 = defineCatalog([
  ...catalog.definitions.filter((d) => d.type !== 'product/purchase'),
  defineEvent('product/purchase', {
    version: 2,
    data: { id: t.string, quantity: t.number },
    history: [pastVersion(1, strict({ id: t.string }), (d) => ({ ...d, quantity: 1 }))],
  }),
]);
const countsOnV2 = defineView({
  name: 'counts',
  version: 1,
  catalog: catalogV2,
  initial: { n: 0 },
  apply: { 'product/purchase': (row, event) => ({ n: row.n + event.data.quantity }) },
});

/** A purchase written by a producer on catalog v2. */
function newer(subject: string, quantity: number): Envelope {
  return createEvent(catalogV2, 'product/purchase', subject, { id: subject, quantity }, { source: 'hello-retail/web-client-v2' });
}

/** Two subjects in different partitions of a 2-partition log. */
const [a, b] = (() => {
  const first = 'a';
  let second = 'b';
  for (let i = 0; partitionForSubject(second, 2) === partitionForSubject(first, 2); i++) second = `b${i}`;
  return [first, second];
})();
const partitionOf = (subject: string) => String(partitionForSubject(subject, 2));
const n = async (store: ReturnType<typeof memoryViewStore>, key: string) =>
  ((await store.get('counts@1', key)) as { n: number } | undefined)?.n;

describe('unreadable events', () => {
  test('a newer version stops its partition (status, onError, dead letter) by default; the others go on; a restart with the new catalog resumes it', async () => {
    const log = memoryLog({ partitions: 2 });
    const store = memoryViewStore();
    await log.append([purchased(a), purchased(b), newer(a, 5), purchased(a), purchased(b)]);
    const deadLetters = memoryDeadLetters();
    const errors: [unknown, string | undefined][] = [];
    const runner = runView(counts, { log, store, deadLetters, onError: (error, partition) => errors.push([error, partition]) });
    await expect(runner.caughtUp()).rejects.toMatchObject({ code: 'UNREADABLE_VERSION' });
    await until(async () => (await n(store, b)) === 2, 'the other partition folded');
    const status = runner.status();
    expect(status.state).toBe('running');
    expect(status.stopped).toEqual([
      expect.objectContaining({
        partition: partitionOf(a),
        code: 'UNREADABLE_VERSION',
        offset: '1',
        reason: expect.stringMatching(/product\/purchase.*deploy the catalog/s),
      }),
    ]);
    expect(errors).toEqual([[expect.objectContaining({ code: 'UNREADABLE_VERSION' }), partitionOf(a)]]);
    expect(deadLetters.letters).toEqual([
      expect.objectContaining({
        group: 'counts@1',
        code: 'UNREADABLE_VERSION',
        record: expect.objectContaining({ position: { partition: partitionOf(a), offset: '1' } }),
      }),
    ]);
    // Not moved past it: the checkpoint stays before the unreadable event.
    expect((await store.positions('counts@1'))[partitionOf(a)]).toBe('0');
    expect(await n(store, a)).toBe(1);
    await runner.stop();

    const upgraded = runView(countsOnV2, { log, store });
    await upgraded.caughtUp();
    await upgraded.stop();
    expect(await n(store, a)).toBe(1 + 5 + 1);
    expect(await n(store, b)).toBe(2);
  });

  test("a payload that fails its schema stops the partition too; with onUnreadable: 'dead-letter' both go to the dead letter and the view goes on", async () => {
    const log = memoryLog({ partitions: 2 });
    const invalid = { ...purchased(a), data: { id: 42 } } as unknown as Envelope;
    await log.append([purchased(a), invalid, newer(a, 5), purchased(a)]);
    const stopping = runView(counts, { log, store: memoryViewStore(), onError: () => {} });
    await expect(stopping.caughtUp()).rejects.toMatchObject({ code: 'DECODE_FAILED', message: expect.stringMatching(/data\.id/) });
    await stopping.stop();

    const store = memoryViewStore();
    const skipped: SkippedRecord[] = [];
    const runner = runView(counts, { log, store, onUnreadable: 'dead-letter', onSkip: (s) => void skipped.push(s) });
    await runner.caughtUp();
    await runner.stop();
    expect(skipped.map((s) => [s.code, s.record.position.offset])).toEqual([
      ['DECODE_FAILED', '1'],
      ['UNREADABLE_VERSION', '2'],
    ]);
    expect(await n(store, a)).toBe(2);
  });

  test('an event with a field the catalog does not know is folded (the field is dropped)', async () => {
    const log = memoryLog({ partitions: 1 });
    const store = memoryViewStore();
    const withExtra = { ...purchased(a), data: { id: a, coupon: 'SPRING' } } as unknown as Envelope;
    await log.append([withExtra, purchased(a)]);
    const runner = runView(counts, { log, store });
    await runner.caughtUp();
    await runner.stop();
    expect(await n(store, a)).toBe(2);
    expect(runner.status().stopped).toEqual([]);
  });
});
