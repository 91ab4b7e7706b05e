import { type Envelope, type EventOf, memoryLog, memoryViewStore, type Position } from '@riverlog/core';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { replay } from './replay.js';
import { catalog, created, imaged, login, purchased } from './retail.fixture.js';
import type { SkippedRecord } from './skips.js';
import { productsView } from './views.fixture.js';

async function seededLog() {
  const log = memoryLog({ partitions: 2 });
  const events = [
    created('p1', 'Boot', 'shoes'),
    created('p2', 'Clog', 'shoes'),
    login('u1', 'Ann'),
    imaged('p1', 'https://i/1'),
    purchased('p1'),
    purchased('p2'),
  ];
  const positions = await log.append(events);
  return { log, events, positions };
}

describe('replay', () => {
  test('into a handler: every event once, decoded, in order per partition, up to the end when it started', async () => {
    const { log, events } = await seededLog();
    const seen: { event: EventOf<typeof catalog>; position: Position }[] = [];
    const result = await replay({
      log,
      catalog,
      into: async (event, position) => {
        seen.push({ event, position });
        if (seen.length === 1) await log.append([purchased('p9')]); // after the start: not replayed
      },
    });
    expect(seen.map((s) => s.event.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(result).toMatchObject({ records: 6, events: 6, skipped: 0 });
    for (const partition of ['0', '1']) {
      const offsets = seen.filter((s) => s.position.partition === partition).map((s) => Number(s.position.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
  });

  test('filtered by type and subject, with the event typed from the types given', async () => {
    const { log } = await seededLog();
    const ids: string[] = [];
    await replay({
      log,
      catalog,
      types: ['product/purchase', 'product/image'],
      subjects: ['p1'],
      into: (event) => {
        expectTypeOf(event.type).toEqualTypeOf<'product/purchase' | 'product/image'>();
        ids.push(`${event.type}:${event.data.id}`);
      },
    });
    expect(ids).toEqual(['product/image:p1', 'product/purchase:p1']);
  });

  test('from and to positions (both included) and times', async () => {
    const { log, positions } = await seededLog();
    const p1Image = positions[3] as Position;
    const p1Purchase = positions[4] as Position;
    const types: string[] = [];
    await replay({
      log,
      catalog,
      from: { [p1Image.partition]: p1Image.offset },
      to: { [p1Purchase.partition]: p1Purchase.offset },
      into: (event) => void types.push(event.type),
    });
    expect(types).toEqual(['product/image', 'product/purchase']);

    const later = memoryLog({ partitions: 1 });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const at = (minutes: number, event: Envelope) => ({ ...event, time: new Date(t0 + minutes * 60_000).toISOString() });
    await later.append([at(0, purchased('a')), at(10, purchased('b')), at(20, purchased('c'))]);
    const subjects: string[] = [];
    await replay({ log: later, catalog, to: new Date(t0 + 15 * 60_000), into: (event) => void subjects.push(event.subject) });
    expect(subjects).toEqual(['a', 'b']);
    const fromNow: string[] = [];
    await replay({ log: later, catalog, from: new Date(Date.now() + 60_000), into: (event) => void fromNow.push(event.subject) });
    expect(fromNow).toEqual([]);
  });

  test('undecodable records are reported in order, not dropped', async () => {
    const log = memoryLog({ partitions: 1 });
    const bad = { ...purchased('p1'), data: { id: 7 } } as unknown as Envelope;
    await log.append([purchased('p0'), bad, purchased('p2')]);
    const order: string[] = [];
    const result = await replay({
      log,
      catalog,
      into: (event) => void order.push(event.subject),
      onSkip: (s: SkippedRecord) => void order.push(`skipped ${s.record.position.offset}: ${s.reason}`),
    });
    expect(order).toEqual(['p0', expect.stringMatching(/^skipped 1: .*data\.id: expected string, got 7/), 'p2']);
    expect(result).toMatchObject({ events: 2, skipped: 1 });
  });

  test('into a view, resumable: a second replay folds nothing twice', async () => {
    const { log } = await seededLog();
    const store = memoryViewStore();
    const progress: number[] = [];
    const first = await replay({ log, into: productsView, store, batchSize: 1, onProgress: (p) => progress.push(p.records) });
    expect(first.events).toBe(3);
    expect(progress.length).toBeGreaterThan(1);
    await log.append([imaged('p2', 'https://i/2')]);
    const second = await replay({ log, into: productsView, store });
    expect(second.events).toBe(1);
    expect(await store.get('products@1', 'p1')).toEqual({ id: 'p1', name: 'Boot', category: 'shoes', image: 'https://i/1' });
    expect(await store.get('products@1', 'p2')).toEqual({ id: 'p2', name: 'Clog', category: 'shoes', image: 'https://i/2' });
  });

  test('stops early on its signal', async () => {
    const { log } = await seededLog();
    const controller = new AbortController();
    let count = 0;
    await replay({
      log,
      catalog,
      batchSize: 1,
      signal: controller.signal,
      into: () => {
        count++;
        controller.abort();
      },
    });
    expect(count).toBe(1);
  });
});
