import { createEvent } from '@riverlog/core';
import { describe, expect, it } from 'vitest';
import { firstTouched, lastTouched, names, picky, purchases, purchasesWithoutIdWindow, shop } from './shop.fixture.js';
import { SpecAssertionError } from './spec-report.js';
import { viewSpec } from './view-spec.js';

const buy = (id: string, buyer: string) => ({ type: 'product/purchase' as const, subject: id, data: { id, buyer } });
const create = (id: string, name = id) => ({ type: 'product/create' as const, subject: id, data: { id, name } });

/** The error a spec rejected with. */
async function failureOf(promise: Promise<unknown>): Promise<SpecAssertionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpecAssertionError);
  return error as SpecAssertionError;
}

describe('viewSpec', () => {
  it('passes a correct view, with exact rows, and says how each run delivered the events', async () => {
    const result = await viewSpec(purchases)
      .given(buy('p1', 'ann'), buy('p2', 'ann'), buy('p1', 'ben'))
      .thenRows({ p1: { count: 2 }, p2: { count: 1 }, 'buyer:ann': { count: 2 }, 'buyer:ben': { count: 1 } });
    expect(result.runs.map((run) => [run.name, run.deliveries])).toEqual([
      ['each event once, in the order given', 3],
      ['every event delivered twice', 9],
      ['partitions interleaved differently: whole partitions, the first given last', 3],
      ['partitions interleaved differently: whole partitions, the one given last first', 3],
    ]);
    // The second deliveries were there, and left out by the id window or the rows' applied marks.
    expect(result.runs[1]?.duplicates).toBeGreaterThanOrEqual(3);
  });

  it('takes envelopes, { event, partition } and create inputs, and checks a row with a value or a predicate', async () => {
    const envelope = createEvent(shop, 'product/purchase', 'p1', { id: 'p1', buyer: 'cy' }, { source: 'test' });
    const spec = viewSpec(purchases).given([
      envelope,
      { event: createEvent(shop, 'product/purchase', 'p1', { id: 'p1', buyer: 'cy' }, { source: 'test' }), partition: 'p1' },
    ]);
    await spec.thenRow('p1', { count: 2 });
    await spec.thenRow('p9', (row) => row === undefined);
    await spec.thenRows((rows) => rows['buyer:cy']?.count === 2);
    expect(await spec.rows()).toEqual({ p1: { count: 2 }, 'buyer:cy': { count: 2 } });
  });

  it('reports wrong expected rows with a row diff and the event sequence', async () => {
    const error = await failureOf(
      viewSpec(purchases)
        .given(buy('p1', 'ann'), buy('p1', 'ben'))
        .thenRows({ p1: { count: 3 }, 'buyer:ann': { count: 1 } }),
    );
    expect(error.run).toBe('each event once, in the order given');
    expect(error.message).toContain('viewSpec(purchases@1): the rows are not as expected.');
    expect(error.message).toContain('  row "p1":\n    .count: expected 3, got 2');
    expect(error.message).toContain('  row "buyer:ben": not expected; got {"count":1}');
    expect(error.message).toMatch(/1\. event #1 product\/purchase "p1" at p1@0\n\s+2\. event #2 product\/purchase "p1" at p1@1/);
    expect(error.code).toBe('ERR_ASSERTION');
  });

  it('catches a view that is not idempotent: it counts an event appended twice twice, and names the event', async () => {
    const error = await failureOf(
      viewSpec(purchasesWithoutIdWindow)
        .given(create('p1'), buy('p1', 'ann'), buy('p2', 'ben'))
        .thenRows({ p1: { count: 1 }, p2: { count: 1 } }),
    );
    expect(error.run).toBe('every event delivered twice');
    expect(error.message).toContain('the view is not idempotent');
    expect(error.message).toContain('  row "p1":\n    .count: expected 1, got 2');
    // Pinpointed: the purchase alone, appended anew, breaks it; the create (which the view ignores) does not.
    expect(error.message).toContain('Event #2 product/purchase "p1" alone, appended anew (same id) at p1@2, changes:');
    expect(error.message).not.toContain('Event #1 product/create');
    expect(error.message).toContain('idWindow 0');
    expect(error.message).toContain('(again, same position)');
    expect(error.message).toContain('(again, appended anew)');
    expect(error.expected).toEqual({ p1: { count: 1 }, p2: { count: 1 } });
    expect(error.actual).toEqual({ p1: { count: 2 }, p2: { count: 2 } });
  });

  it('catches a view that depends on the order of partitions ("last wins" and "first wins")', async () => {
    const lastWins = await failureOf(
      viewSpec(lastTouched)
        .given(create('p1'), create('p2'), buy('p1', 'ann'))
        .thenRows({ last: { product: 'p1' } }),
    );
    expect(lastWins.run).toBe('partitions interleaved differently: whole partitions, the one given last first');
    expect(lastWins.message).toContain('the view depends on the order of partitions');
    expect(lastWins.message).toContain('  row "last":\n    .product: expected "p1", got "p2"');
    // The run that broke it: partition p1 (which has the last event) first, each partition in its own order.
    expect(lastWins.message).toMatch(
      /1\. event #1 product\/create "p1" at p1@0\n\s+2\. event #3 product\/purchase "p1" at p1@1\n\s+3\. event #2 product\/create "p2" at p2@0/,
    );
    const firstWins = await failureOf(
      viewSpec(firstTouched)
        .given(create('p1'), create('p2'), buy('p1', 'ann'))
        .thenRows({ first: { product: 'p1' } }),
    );
    expect(firstWins.run).toBe('partitions interleaved differently: whole partitions, the first given last');
    expect(firstWins.message).toContain('  row "first":\n    .product: expected "p1", got "p2"');
  });

  it('accepts an order-dependent view when told so, and runs seeded shuffles when asked', async () => {
    await viewSpec(lastTouched, { interleave: false })
      .given(create('p1'), create('p2'), buy('p1', 'ann'))
      .thenRows({ last: { product: 'p1' } });
    const result = await viewSpec(names, { shuffles: 3, seed: 7 })
      .given(create('p1', 'Boot'), create('p2', 'Tent'), { type: 'product/rename', subject: 'p1', data: { id: 'p1', name: 'Hiking Boot' } })
      .thenRows({ p1: { name: 'Hiking Boot', products: 0 }, p2: { name: 'Tent', products: 0 }, total: { name: '', products: 2 } });
    expect(result.runs.map((run) => run.name).slice(4)).toEqual([
      'partitions shuffled with seed 7',
      'partitions shuffled with seed 8',
      'partitions shuffled with seed 9',
    ]);
  });

  it('fails on an event the view skipped (apply threw), unless allowSkips', async () => {
    const error = await failureOf(
      viewSpec(picky)
        .given(buy('p1', 'ann'), buy('p1', 'nobody'))
        .thenRows({ p1: { count: 1 } }),
    );
    expect(error.message).toMatch(/the view skipped an event \(pass allowSkips to accept it\):\n {2}APPLY_FAILED at p1@1: .*no buyer/);
    const result = await viewSpec(picky, { allowSkips: true })
      .given(buy('p1', 'ann'), buy('p1', 'nobody'))
      .thenRows({ p1: { count: 1 } });
    expect(result.skipped.map((s) => s.code)).toEqual(['APPLY_FAILED']);
  });

  it('fails naming the reason when the view stops on an event its catalog cannot read', async () => {
    const invalid = { ...createEvent(shop, 'product/purchase', 'p1', { id: 'p1', buyer: 'ann' }, { source: 'test' }), data: { id: 'p1' } };
    const error = await failureOf(viewSpec(purchases).given(invalid).thenRows({}));
    expect(error.message).toContain(
      'folding stopped: Cannot decode record at partition p1, offset 0 (type "product/purchase"): payload invalid: data.buyer',
    );
  });

  it('awaits an async check: a check that rejects fails the spec', async () => {
    const spec = viewSpec(purchases).given(buy('p1', 'ann'));
    const rows = await failureOf(
      spec.thenRows(async (r) => {
        await Promise.resolve();
        throw new Error(`count is ${r.p1?.count}, wanted 5`);
      }),
    );
    expect(rows.message).toContain('The check threw: count is 1, wanted 5');
    const row = await failureOf(spec.thenRow('p1', async () => false));
    expect(row.message).toContain('The check returned false.');
  });

  it('refuses unknown or malformed options with INVALID_OPTION, naming the closest option', () => {
    expect(() => viewSpec(purchases, { shufles: 8 } as never)).toThrow(/INVALID_OPTION|unknown option "shufles"; did you mean "shuffles"/);
    expect(() => viewSpec(purchases, { shufles: 8 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => viewSpec(purchases, { shuffles: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => viewSpec(purchases, { timeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('compares rows as the store keeps them (JSON): a field set to undefined is no field', async () => {
    await viewSpec(purchases)
      .given(buy('p1', 'ann'))
      .thenRow('p1', { count: 1, note: undefined } as never);
  });
});
