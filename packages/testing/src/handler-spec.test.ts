import { createEvent, ignore } from '@riverlog/core';
import { createProducer } from '@riverlog/producer';
import { describe, expect, it } from 'vitest';
import { handlerSpec } from './handler-spec.js';
import { shop } from './shop.fixture.js';
import { SpecAssertionError } from './spec-report.js';

const create = (id: string) => ({ type: 'product/create' as const, subject: id, data: { id, name: `Product ${id}` } });
const buy = (id: string, buyer: string) => ({ type: 'product/purchase' as const, subject: id, data: { id, buyer } });

async function failureOf(promise: Promise<unknown>): Promise<SpecAssertionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpecAssertionError);
  return error as SpecAssertionError;
}

describe('handlerSpec', () => {
  it('shows each event handled, retried, ignored or dead-lettered with its code, and lets the test check effects', async () => {
    const receipts: string[] = [];
    const tries = new Map<string, number>();
    const spec = handlerSpec({
      catalog: shop,
      retry: { attempts: 3 },
      handlers: {
        'product/create': ignore,
        'product/rename': ignore,
        'product/purchase': (event) => {
          const n = (tries.get(event.id) ?? 0) + 1;
          tries.set(event.id, n);
          if (event.data.buyer === 'flaky' && n === 1) throw new Error('timeout');
          if (event.data.buyer === 'broke') throw new Error('card declined');
          receipts.push(`${event.data.id}:${event.data.buyer}`);
        },
      },
    });
    const run = await spec
      .given(create('p1'), buy('p1', 'ann'), buy('p1', 'broke'), buy('p2', 'flaky'))
      .thenOutcomes(['ignored', 'handled', 'dead-lettered HANDLER_FAILED', { outcome: 'handled', attempts: 2 }]);
    expect(receipts.sort()).toEqual(['p1:ann', 'p2:flaky']);
    expect(run.outcomes[2]).toMatchObject({ outcome: 'dead-lettered', code: 'HANDLER_FAILED', attempts: 3 });
    expect(run.outcomes[2]?.errors).toEqual(['card declined', 'card declined', expect.stringContaining('card declined')]);
    expect(run.summary[2]).toMatch(
      /^event #3 product\/purchase "p1" at \d+@2: dead-lettered with HANDLER_FAILED after 3 attempts \(.*card declined\)$/,
    );
    expect(run.summary[3]).toMatch(/: handled after 2 attempts \(failed first: timeout\)$/);
    expect(run.deadLetters.map((l) => l.code)).toEqual(['HANDLER_FAILED']);
  });

  it('fails naming the event whose outcome differs, with every outcome listed', async () => {
    const spec = handlerSpec({
      catalog: shop,
      retry: { attempts: 2 },
      handlers: {
        'product/create': () => {},
        'product/rename': ignore,
        'product/purchase': () => {
          throw new Error('payment service down');
        },
      },
    });
    const error = await failureOf(spec.given(create('p1'), buy('p1', 'ann')).thenOutcomes({ 2: 'handled' }));
    expect(error.message).toContain('handlerSpec: the outcomes are not as expected:');
    expect(error.message).toMatch(
      /event #2: expected handled, got dead-lettered with HANDLER_FAILED after 2 attempts \(.*payment service down\)/,
    );
    expect(error.message).toMatch(/What became of each event given:\n {2}event #1 product\/create "p1" at \d+@0: handled\n/);
  });

  it('collects what the handlers emit, and checks it in any order', async () => {
    const spec = handlerSpec({
      catalog: shop,
      handlers: ({ log }) => {
        const producer = createProducer({ log, catalog: shop, source: 'test/renamer' });
        return {
          'product/create': async (event) => {
            await producer.emit(
              'product/rename',
              event.subject,
              { id: event.data.id, name: event.data.name.toUpperCase() },
              { causationid: event.id },
            );
          },
          'product/rename': ignore,
          'product/purchase': ignore,
        };
      },
    });
    const scenario = spec.given(create('p1'), create('p2'));
    const run = await scenario.thenEmitted([
      { type: 'product/rename', subject: 'p2', data: { id: 'p2', name: 'PRODUCT P2' } },
      { type: 'product/rename', subject: 'p1', data: { id: 'p1', name: 'PRODUCT P1' } },
    ]);
    expect(run.emitted.map((e) => e.causationid).sort()).toEqual(run.outcomes.map((o) => o.event.id).sort());
    // The emitted events were handled too (ignored): the spec ran until nothing more happened.
    const error = await failureOf(
      scenario.thenEmitted([{ type: 'product/rename', subject: 'p1', data: { id: 'p1', name: 'Product p1' } }]),
    );
    expect(error.message).toContain('not emitted: {"type":"product/rename","subject":"p1","data":{"id":"p1","name":"Product p1"}}');
    expect(error.message).toContain('the closest emitted differs at .data.name: expected "Product p1", got "PRODUCT P1"');
    expect(error.message).toContain('emitted, not expected: {"type":"product/rename","subject":"p2"');
  });

  it('awaits an async check of the emitted events: one that rejects fails the spec', async () => {
    const spec = handlerSpec({
      catalog: shop,
      handlers: { 'product/create': ignore, 'product/purchase': ignore, 'product/rename': ignore },
    });
    const error = await failureOf(
      spec.given(create('p1')).thenEmitted(async (emitted) => {
        await Promise.resolve();
        throw new Error(`${emitted.length} emitted, wanted 1`);
      }),
    );
    expect(error.message).toContain('the check of the emitted events threw: 0 emitted, wanted 1');
  });

  it('refuses unknown or malformed options with INVALID_OPTION, naming the closest option', () => {
    const handlers = { 'product/create': ignore, 'product/purchase': ignore, 'product/rename': ignore };
    expect(() => handlerSpec({ catalog: shop, handlers, retrys: { attempts: 2 } } as never)).toThrow(
      /unknown option "retrys"; did you mean "retry"/,
    );
    expect(() => handlerSpec({ catalog: shop, handlers, partitions: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => handlerSpec({ catalog: shop, handlers, timeoutMs: -5 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('reports events of a type the catalog does not know as dead-lettered with UNKNOWN_EVENT_TYPE', async () => {
    const unknown = {
      ...createEvent(shop, 'product/purchase', 'p1', { id: 'p1', buyer: 'ann' }, { source: 'test' }),
      type: 'product/return',
    };
    await handlerSpec({ catalog: shop, handlers: { 'product/create': ignore, 'product/purchase': ignore, 'product/rename': ignore } })
      .given(unknown, create('p1'))
      .thenOutcomes(['dead-lettered UNKNOWN_EVENT_TYPE', 'ignored']);
  });
});
