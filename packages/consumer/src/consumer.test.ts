import {
  type CheckpointStore,
  type DeadLetter,
  defineCatalog,
  defineEvent,
  type EventLog,
  ignore,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLog,
  type PositionMap,
  partitionForSubject,
  pastVersion,
  strict,
  t,
} from '@riverlog/core';
import { describe, expect, it, vi } from 'vitest';
import { createConsumer } from './consumer.js';
import type { ConsumerOptions } from './types.js';

const ProductCreated = defineEvent('product/create', {
  version: 2,
  data: { id: t.string, name: t.string },
  history: [pastVersion(1, strict({ id: t.string, title: t.string }), (d) => ({ id: d.id, name: d.title }))],
});
const ProductImaged = defineEvent('product/image', { data: { id: t.string, image: t.string } });
const ProductPurchased = defineEvent('product/purchase', { data: { id: t.string } });
const catalog = defineCatalog([ProductCreated, ProductImaged, ProductPurchased]);
type Catalog = typeof catalog;

const create = (subject: string, name = subject) => catalog.create('product/create', subject, { id: subject, name }, { source: 'test' });
const purchase = (subject: string) => catalog.create('product/purchase', subject, { id: subject }, { source: 'test' });

/** A subject that the memory log puts in `partition` of `count`. */
function subjectIn(partition: number, count: number, prefix = 'p'): string {
  for (let i = 0; ; i++) if (partitionForSubject(`${prefix}${i}`, count) === partition) return `${prefix}${i}`;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A checkpoint store that also keeps the history of saves, to check what was written when. */
function recordingCheckpoints(): CheckpointStore & { saves: PositionMap[] } {
  const inner = memoryCheckpointStore();
  const saves: PositionMap[] = [];
  return {
    saves,
    load: (group) => inner.load(group),
    async save(group, positions) {
      saves.push(positions);
      await inner.save(group, positions);
    },
    close: () => inner.close(),
  };
}

function setup(overrides: Partial<ConsumerOptions<Catalog>> & { log?: EventLog } = {}) {
  const log = overrides.log ?? memoryLog({ partitions: 2 });
  const checkpoints = recordingCheckpoints();
  const deadLetter = memoryDeadLetters();
  const handled: { type: string; subject: string; partition: string; offset: string; attempt: number }[] = [];
  const consumer = createConsumer({
    log,
    catalog,
    group: 'g',
    checkpoints,
    deadLetter,
    checkpointEvery: { records: 1 },
    retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
    handlers: {
      'product/create': (event, context) => {
        handled.push({ type: event.type, subject: event.subject, ...context.position, attempt: context.attempt });
      },
      'product/image': ignore,
      'product/purchase': (event, context) => {
        handled.push({ type: event.type, subject: event.subject, ...context.position, attempt: context.attempt });
      },
    },
    ...overrides,
  });
  return { log, checkpoints, deadLetter, handled, consumer };
}

describe('createConsumer', () => {
  it('hands every event, decoded and upcast, to its handler in order per partition', async () => {
    const { log, consumer, handled, checkpoints } = setup();
    const subjects = ['a', 'b', 'c', 'd', 'e'];
    for (let round = 0; round < 4; round++) await log.append(subjects.map((s) => create(s, `${s}${round}`)));
    // A version-1 event: the handler must see it upcast to version 2.
    const old = { ...create('a'), dataschema: 'product/create@1', data: { id: 'a', title: 'Old title' } };
    await log.append([old]);
    const seen: unknown[] = [];
    const upcastConsumer = createConsumer({
      log,
      catalog,
      group: 'upcast',
      checkpoints,
      deadLetter: memoryDeadLetters(),
      handlers: {
        'product/create': (event) => {
          if (event.id === old.id) seen.push(event.data);
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
    });
    await consumer.start();
    await upcastConsumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await upcastConsumer.drain({ timeoutMs: 5000 });
    await Promise.all([consumer.stop(), upcastConsumer.stop()]);

    expect(handled).toHaveLength(21);
    expect(seen).toEqual([{ id: 'a', name: 'Old title' }]);
    for (const partition of ['0', '1']) {
      const offsets = handled.filter((h) => h.partition === partition).map((h) => Number(h.offset));
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      expect(new Set(offsets).size).toBe(offsets.length);
    }
    expect(await checkpoints.load('g')).toEqual(await log.heads());
  });

  it('works on partitions in parallel', async () => {
    const { log, consumer } = setup({
      handlers: {
        // The event on partition 0 waits for the one on partition 1: only parallel partitions finish.
        'product/create': async (event) => {
          if (event.subject === first) await secondHandled.promise;
          else secondHandled.resolve();
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
    });
    const first = subjectIn(0, 2);
    const second = subjectIn(1, 2);
    const secondHandled = deferred();
    await log.append([create(first), create(second)]);
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
  });

  it('never checkpoints past a record whose handler has not finished', async () => {
    const subject = subjectIn(0, 1);
    const gate = deferred();
    const entered = deferred();
    const finished = new Set<number>();
    const violations: string[] = [];
    const log = memoryLog({ partitions: 1 });
    const checkpoints = recordingCheckpoints();
    // Checked at every write: each offset up to the checkpoint has a handler that returned.
    const guarded: CheckpointStore = {
      ...checkpoints,
      async save(group, positions) {
        const upTo = Number(positions['0']);
        for (let offset = 0; offset <= upTo; offset++)
          if (!finished.has(offset)) violations.push(`checkpoint ${upTo} before ${offset} finished`);
        await checkpoints.save(group, positions);
      },
    };
    const { consumer } = setup({
      log,
      checkpoints: guarded,
      handlers: {
        'product/create': async (event, { position }) => {
          if (event.data.name === 'blocker') {
            entered.resolve();
            await gate.promise;
          }
          finished.add(Number(position.offset));
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
    });
    await log.append([create(subject, 'one'), create(subject, 'two'), create(subject, 'blocker'), create(subject, 'after')]);
    await consumer.start();
    await entered.promise;
    await vi.waitFor(async () => expect(await checkpoints.load('g')).toEqual({ '0': '1' }), { timeout: 5000 });
    gate.resolve();
    await consumer.drain({ timeoutMs: 5000 });
    expect(await checkpoints.load('g')).toEqual({ '0': '3' });
    await consumer.stop();
    expect(violations).toEqual([]);
  });

  it('writes checkpoints in batches of N records, every T ms, and on stop', async () => {
    const byCount = setup({ log: memoryLog({ partitions: 1 }), checkpointEvery: { records: 5, ms: 60_000 } });
    await byCount.log.append(Array.from({ length: 12 }, (_, i) => create(`s${i}`)));
    await byCount.consumer.start();
    await byCount.consumer.drain({ timeoutMs: 5000 });
    await byCount.consumer.stop();
    expect(byCount.checkpoints.saves.length).toBeGreaterThanOrEqual(2);
    expect(byCount.checkpoints.saves.length).toBeLessThanOrEqual(4);
    expect(await byCount.checkpoints.load('g')).toEqual({ '0': '11' });

    const byTime = setup({ log: memoryLog({ partitions: 1 }), checkpointEvery: { records: 1000, ms: 30 } });
    await byTime.log.append([create('x'), create('y'), create('z')]);
    await byTime.consumer.start();
    // No drain(): only the timer writes the checkpoint.
    await vi.waitFor(async () => expect(await byTime.checkpoints.load('g')).toEqual({ '0': '2' }), { timeout: 5000 });
    await byTime.consumer.stop();

    const onStop = setup({ log: memoryLog({ partitions: 1 }), checkpointEvery: { records: 1000, ms: 60_000 } });
    await onStop.log.append([create('x'), create('y')]);
    await onStop.consumer.start();
    await vi.waitFor(() => expect(onStop.handled).toHaveLength(2), { timeout: 5000 });
    expect(onStop.checkpoints.saves).toEqual([]);
    await onStop.consumer.stop();
    expect(await onStop.checkpoints.load('g')).toEqual({ '0': '1' });
  });

  it('retries a failing handler with growing, jittered delays, then succeeds', async () => {
    let calls = 0;
    const retries: { attempt: number; delayMs: number }[] = [];
    const { log, consumer, deadLetter } = setup({
      retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 1000, factor: 2 },
      handlers: {
        'product/create': (_event, context) => {
          calls++;
          expect(context.attempt).toBe(calls);
          if (calls < 3) throw new Error('flaky');
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
      hooks: { onRetry: ({ attempt, delayMs }) => retries.push({ attempt, delayMs }) },
    });
    await log.append([create('a')]);
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
    expect(calls).toBe(3);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(5);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(10);
    expect(retries[1]?.delayMs).toBeGreaterThanOrEqual(10);
    expect(retries[1]?.delayMs).toBeLessThanOrEqual(20);
    expect(deadLetter.letters).toEqual([]);
  });

  it('dead-letters a record whose handler keeps failing, before the checkpoint passes it, and moves on', async () => {
    const subject = subjectIn(0, 1);
    const order: string[] = [];
    const deadLetter = {
      letters: [] as DeadLetter[],
      async send(letters: readonly DeadLetter[]) {
        order.push(`dead-letter ${letters[0]?.record.position.offset}`);
        this.letters.push(...letters);
      },
    };
    const { log, consumer, checkpoints, handled } = setup({
      log: memoryLog({ partitions: 1 }),
      deadLetter,
      hooks: { onCheckpoint: ({ positions }) => order.push(`checkpoint ${positions['0']}`) },
      handlers: {
        'product/create': (event) => {
          if (event.data.name === 'bad') throw new Error('database refused: constraint violated');
        },
        'product/image': ignore,
        'product/purchase': (event, context) => {
          handled.push({ type: event.type, subject: event.subject, ...context.position, attempt: context.attempt });
        },
      },
    });
    await log.append([create(subject, 'bad'), purchase(subject)]);
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
    expect(deadLetter.letters).toHaveLength(1);
    const [letter] = deadLetter.letters;
    expect(letter).toMatchObject({
      group: 'g',
      code: 'HANDLER_FAILED',
      attempts: 3,
      record: { position: { partition: '0', offset: '0' } },
    });
    expect(letter?.reason).toContain('database refused: constraint violated');
    expect(letter?.reason).toContain('"product/create" failed 3 times at partition 0, offset 0');
    expect(handled.map((h) => h.offset)).toEqual(['1']);
    expect(order.indexOf('dead-letter 0')).toBeLessThan(order.findIndex((entry) => entry.startsWith('checkpoint')));
    expect(await checkpoints.load('g')).toEqual({ '0': '1' });
  });

  it('dead-letters records that do not decode, and unknown types unless told to ignore them', async () => {
    const subject = subjectIn(0, 1);
    const invalid = { ...create(subject), data: { id: subject, name: 42 } };
    const unknown = { ...create(subject), type: 'product/delete', dataschema: 'product/delete@1' };
    const tooNew = { ...create(subject), dataschema: 'product/create@3' };
    const records = [invalid, unknown, tooNew, purchase(subject)];

    const strictRun = setup({ log: memoryLog({ partitions: 1 }) });
    await strictRun.log.append(records);
    await strictRun.consumer.start();
    await strictRun.consumer.drain({ timeoutMs: 5000 });
    await strictRun.consumer.stop();
    const letters = strictRun.deadLetter.letters.map((l) => ({ code: l.code, offset: l.record.position.offset, attempts: l.attempts }));
    expect(letters).toEqual([
      { code: 'DECODE_FAILED', offset: '0', attempts: 0 },
      { code: 'UNKNOWN_EVENT_TYPE', offset: '1', attempts: 0 },
      { code: 'DECODE_FAILED', offset: '2', attempts: 0 },
    ]);
    expect(strictRun.deadLetter.letters[0]?.reason).toContain('data.name: expected string, got 42');
    expect(strictRun.deadLetter.letters[0]?.record.event).toEqual(invalid);
    expect(strictRun.deadLetter.letters[1]?.reason).toContain('unknown event type "product/delete"');
    expect(strictRun.deadLetter.letters[2]?.reason).toContain('newer than');
    expect(strictRun.handled.map((h) => h.type)).toEqual(['product/purchase']);
    expect(await strictRun.checkpoints.load('g')).toEqual({ '0': '3' });

    const ignored: string[] = [];
    const lenient = setup({
      log: memoryLog({ partitions: 1 }),
      unknownTypes: 'ignore',
      hooks: { onIgnored: ({ type }) => ignored.push(type) },
    });
    await lenient.log.append([...records, catalog.create('product/image', subject, { id: subject, image: 'x' }, { source: 't' })]);
    await lenient.consumer.start();
    await lenient.consumer.drain({ timeoutMs: 5000 });
    await lenient.consumer.stop();
    expect(lenient.deadLetter.letters.map((l) => l.code)).toEqual(['DECODE_FAILED', 'DECODE_FAILED']);
    expect(ignored).toEqual(['product/delete', 'product/image']);
  });

  it('keeps trying a failing dead-letter sink and does not move past the record meanwhile', async () => {
    const subject = subjectIn(0, 1);
    let failures = 0;
    const errors: string[] = [];
    const letters: DeadLetter[] = [];
    const { log, consumer, checkpoints } = setup({
      log: memoryLog({ partitions: 1 }),
      deadLetter: {
        async send(batch) {
          if (failures++ < 2) throw new Error('sink unavailable');
          letters.push(...batch);
        },
      },
      hooks: { onError: (error, { stage }) => errors.push(`${stage}: ${(error as Error).message}`) },
    });
    await log.append([{ ...create(subject), data: { id: subject } }, create(subject)]);
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
    expect(errors).toEqual(['dead-letter: sink unavailable', 'dead-letter: sink unavailable']);
    expect(letters.map((l) => l.record.position.offset)).toEqual(['0']);
    expect(await checkpoints.load('g')).toEqual({ '0': '1' });
  });

  it('stop() cuts a retry wait short and leaves the record for the next run', async () => {
    const retried = deferred();
    const { log, consumer, checkpoints, deadLetter } = setup({
      log: memoryLog({ partitions: 1 }),
      retry: { maxAttempts: 10, initialDelayMs: 60_000, maxDelayMs: 60_000 },
      hooks: { onRetry: () => retried.resolve() },
      handlers: {
        'product/create': () => {
          throw new Error('down');
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
    });
    await log.append([create('a')]);
    await consumer.start();
    await retried.promise;
    const started = performance.now();
    await consumer.stop();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(deadLetter.letters).toEqual([]);
    expect(await checkpoints.load('g')).toEqual({});
  });

  it('stop() lets the in-flight handler finish, aborts its signal, and checkpoints it', async () => {
    const gate = deferred();
    const entered = deferred();
    let signal: AbortSignal | undefined;
    const { log, consumer, checkpoints } = setup({
      log: memoryLog({ partitions: 1 }),
      checkpointEvery: { records: 1000, ms: 60_000 },
      handlers: {
        'product/create': async (_event, context) => {
          signal = context.signal;
          entered.resolve();
          await gate.promise;
        },
        'product/image': ignore,
        'product/purchase': ignore,
      },
    });
    await log.append([create('a'), create('b')]);
    await consumer.start();
    await entered.promise;
    let stopped = false;
    const stopping = consumer.stop().then(() => {
      stopped = true;
    });
    await vi.waitFor(() => expect(signal?.aborted).toBe(true), { timeout: 5000 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(await checkpoints.load('g')).toEqual({ '0': '0' });
  });

  it('reports lag per partition and drains to zero', async () => {
    const { log, consumer } = setup();
    const a = subjectIn(0, 2);
    const b = subjectIn(1, 2);
    await log.append([create(a), create(a), create(a), create(b)]);
    expect(await consumer.lag()).toEqual({ '0': 3, '1': 1 });
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    expect(await consumer.lag()).toEqual({ '0': 0, '1': 0 });
    expect(consumer.assigned()).toEqual(['0', '1']);
    await consumer.stop();
  });

  it('drain() gives up after its timeout, naming the partition that is behind', async () => {
    const gate = deferred();
    const { log, consumer } = setup({
      log: memoryLog({ partitions: 1 }),
      handlers: { 'product/create': () => gate.promise, 'product/image': ignore, 'product/purchase': ignore },
    });
    await log.append([create('a')]);
    await consumer.start();
    await expect(consumer.drain({ timeoutMs: 50 })).rejects.toMatchObject({
      code: 'DRAIN_TIMEOUT',
      message: expect.stringContaining('partition 0 (finished nothing, head 0)'),
    });
    gate.resolve();
    await consumer.stop();
  });

  it("starts a partition without a checkpoint at its end with from: 'latest'", async () => {
    const { log, consumer, handled } = setup({ log: memoryLog({ partitions: 1 }), from: 'latest' });
    await log.append([create('old')]);
    await consumer.start();
    await vi.waitFor(() => expect(consumer.assigned()).toEqual(['0']));
    await consumer.drain({ timeoutMs: 5000 });
    await log.append([create('new')]);
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
    expect(handled.map((h) => h.subject)).toEqual(['new']);
  });

  it('refuses handler maps that miss or invent a type, naming it', () => {
    const base = { log: memoryLog(), catalog, group: 'g', checkpoints: memoryCheckpointStore(), deadLetter: memoryDeadLetters() };
    expect(() => createConsumer({ ...base, handlers: { 'product/create': ignore, 'product/image': ignore } as never })).toThrow(
      /no entry for "product\/purchase"/,
    );
    expect(() =>
      createConsumer({
        ...base,
        handlers: { 'product/create': ignore, 'product/image': ignore, 'product/purchase': ignore, 'product/delete': ignore } as never,
      }),
    ).toThrow(/"product\/delete", which the catalog does not define/);
    expect(() =>
      createConsumer({ ...base, group: '', handlers: { 'product/create': ignore, 'product/image': ignore, 'product/purchase': ignore } }),
    ).toThrow(/group must be a non-empty string/);
  });

  it('keeps going when a hook throws, and reports it', async () => {
    const errors: string[] = [];
    const { log, consumer, handled } = setup({
      hooks: {
        onHandled: () => {
          throw new Error('hook bug');
        },
        onError: (error, { stage }) => errors.push(`${stage}: ${(error as Error).message}`),
      },
    });
    await log.append([create('a'), create('b')]);
    await consumer.start();
    await consumer.drain({ timeoutMs: 5000 });
    await consumer.stop();
    expect(handled).toHaveLength(2);
    expect(errors).toEqual(['hook: hook bug', 'hook: hook bug']);
  });
});
