import { type Envelope, type EventLog, type EventOf, memoryLog, memoryViewStore, type Position, type ReadOptions } from '@riverlog/core';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { openView } from './open-view.js';
import { type ReplayFrom, replay } from './replay.js';
import { catalog, created, imaged, login, purchased } from './retail.fixture.js';
import type { SkippedRecord } from './skips.js';
import { productsView, tallyView } from './views.fixture.js';

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

  describe('into a view: a fold of the whole log, the checkpoint only past what is folded', () => {
    /** Three subjects in one partition, one purchase each: a tally row per subject. */
    async function abcLog() {
      const log = memoryLog({ partitions: 1 });
      await log.append([purchased('a'), purchased('b'), purchased('c')]);
      return log;
    }

    test('by default a commit folds up to 2,000 records and rows (runView: 1,000); commitSize overrides it', async () => {
      const log = memoryLog({ partitions: 1 });
      await log.append(Array.from({ length: 6_000 }, (_, i) => purchased(`s${i}`)));
      const commits = async (commitSize?: number) => {
        const inner = memoryViewStore();
        const sizes: number[] = [];
        const store = {
          ...inner,
          limits: inner.limits,
          commit: (table: string, commit: Parameters<typeof inner.commit>[1]) => {
            sizes.push(commit.rows.length);
            return inner.commit(table, commit);
          },
        };
        const result = await replay({ log, into: tallyView, store, ...(commitSize ? { commitSize } : {}) });
        expect(result.events).toBe(6_000);
        return sizes;
      };
      // A row per event: each commit is full at 2,000 rows, the rest goes in the next.
      expect(await commits()).toEqual([2_000, 2_000, 2_000]);
      expect(await commits(1_000)).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
    });

    test('a commitSize that is not a whole number ≥ 1 is refused at run time (it never committed, or committed every batch)', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      for (const commitSize of [0, -1, 1.5, Number.NaN, '10' as unknown as number]) {
        await expect(replay({ log, into: tallyView, store, commitSize })).rejects.toMatchObject({
          code: 'INVALID_OPTION',
          message: expect.stringContaining('commitSize'),
        });
      }
      expect(await store.positions('tally@1')).toEqual({});
    });

    test('subjects and types are refused, with the reason and what to do; the checkpoint does not move', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      // @ts-expect-error -- subjects are not accepted into a view
      const bySubject = replay({ log, into: tallyView, store, subjects: ['c'] });
      await expect(bySubject).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/subjects.*into a handler.*rebuildView/s),
      });
      // @ts-expect-error -- types are not accepted into a view
      const byType = replay({ log, into: tallyView, store, types: ['product/purchase'] });
      await expect(byType).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/types.*into a handler.*rebuildView/s),
      });
      expect(await store.positions('tally@1')).toEqual({});
      // What a later build gets is the pure fold of the whole log: every row.
      await replay({ log, into: tallyView, store });
      expect([...(await openView(tallyView, store).getMany(['a', 'b', 'c'])).keys()].sort()).toEqual(['a', 'b', 'c']);
    });

    test('a from after the checkpoint is refused; from at or before it, or earliest, folds the rest once', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      await replay({ log, into: tallyView, store, to: { '0': '0' } });
      expect(await store.positions('tally@1')).toEqual({ '0': '0' });
      const skipping: ReplayFrom[] = [{ after: { '0': '1' } }, { at: { '0': '2' } }, { '0': '2' }, new Date(0), 'latest'];
      for (const from of skipping) {
        await expect(replay({ log, into: tallyView, store, from })).rejects.toMatchObject({
          code: 'INVALID_OPTION',
          message: expect.stringMatching(/from.*checkpoint.*partition 0/s),
        });
      }
      expect(await store.positions('tally@1')).toEqual({ '0': '0' });
      const rows = await replay({ log, into: tallyView, store, from: { after: { '0': '0' } } });
      expect(rows.events).toBe(2);
      expect(await replay({ log, into: tallyView, store, from: { at: { '0': '0' } } })).toMatchObject({ events: 0 });
      expect(await replay({ log, into: tallyView, store, from: 'earliest' })).toMatchObject({ events: 0 });
      expect((await openView(tallyView, store).getMany(['a', 'b', 'c'])).size).toBe(3);
      expect(
        [...(await openView(tallyView, store).getMany(['a', 'b', 'c'])).values()].map((row) => (row as { count: number }).count),
      ).toEqual([1, 1, 1]);
    });

    test('a from that skips nothing past the checkpoint is fine (the partition is already folded up to `to`)', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      await replay({ log, into: tallyView, store });
      // Nothing left to fold: even a time says nothing that would be left out.
      expect(await replay({ log, into: tallyView, store, from: new Date() })).toMatchObject({ events: 0 });
    });

    test('reads from after the checkpoint, not from the start of the log', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      await replay({ log, into: tallyView, store, to: { '0': '1' } });
      const reads: ReadOptions[] = [];
      const spied: EventLog = {
        ...log,
        read: (options = {}) => {
          reads.push(options);
          return log.read(options);
        },
      };
      const result = await replay({ log: spied, into: tallyView, store });
      expect(reads.map((r) => r.from)).toEqual([{ after: { '0': '1' } }]);
      expect(result).toMatchObject({ records: 1, events: 1 });
      expect(await store.positions('tally@1')).toEqual({ '0': '2' });
    });

    test('to stops early; a later replay resumes after it', async () => {
      const log = await abcLog();
      const store = memoryViewStore();
      expect(await replay({ log, into: tallyView, store, to: { '0': '1' } })).toMatchObject({ events: 2 });
      expect(await store.positions('tally@1')).toEqual({ '0': '1' });
      expect(await replay({ log, into: tallyView, store })).toMatchObject({ events: 1 });
      expect((await openView(tallyView, store).getMany(['a', 'b', 'c'])).size).toBe(3);
    });
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
