import {
  ClosedError,
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  EventTooLargeError,
  type LogRecord,
  memoryLog,
  RiverlogError,
  t,
  UnknownEventTypeError,
  ValidationError,
} from '@riverlog/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppendNotAttemptedError } from './append-queue.js';
import { createProducer, type Emitted } from './producer.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } }),
]);
const source = 'producer-test';

/** A real memory log whose appends are recorded and can be made to fail or wait. */
function instrumentedLog(inner: EventLog = memoryLog()) {
  const appends: Envelope[][] = [];
  let failOn: (call: number) => Error | undefined = () => undefined;
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const log: EventLog = {
    uri: inner.uri,
    maxEventBytes: inner.maxEventBytes,
    async append(events) {
      const call = appends.push([...events]) - 1;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (gate) await gate;
        const error = failOn(call);
        if (error) throw error;
        return await inner.append(events);
      } finally {
        inFlight--;
      }
    },
    read: (options) => inner.read(options),
    partitions: () => inner.partitions(),
    close: () => inner.close(),
  };
  return {
    log,
    appends,
    get maxInFlight() {
      return maxInFlight;
    },
    failAppend(predicate: (call: number) => Error | undefined) {
      failOn = predicate;
    },
    /** Holds every append until the returned function is called. */
    hold(): () => void {
      let open!: () => void;
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return () => {
        gate = undefined;
        open();
      };
    },
  };
}

async function readAll(log: EventLog): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  for await (const batch of log.read({ from: 'earliest' })) records.push(...batch.records);
  return records;
}

async function waitFor(condition: () => boolean, what: string, deadlineMs = 5_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createProducer: emit', () => {
  it('wraps, validates and appends, resolving with the id and the position the log reads back', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    const { id, position } = await producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { correlationid: 'c1' });
    const records = await readAll(log);
    expect(records).toHaveLength(1);
    expect(records[0]?.position).toEqual(position);
    expect(records[0]?.event).toMatchObject({
      id,
      specversion: '1.0',
      type: 'product/create',
      subject: 'p1',
      source,
      dataschema: catalog.dataschema('product/create'),
      data: { id: 'p1', name: 'Boot' },
      correlationid: 'c1',
    });
  });

  it('refuses an invalid payload with ValidationError naming the field, writing nothing of it', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    const bad = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 'two' } as never);
    const good = producer.emit('product/purchase', 'p2', { id: 'p2', quantity: 2 });
    const error = await rejection(bad);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: 'data.quantity', expected: 'number', actual: '"two"' }]);
    await good;
    const records = await readAll(log);
    expect(records.map((r) => (r.event as Envelope).subject)).toEqual(['p2']);
  });

  it('refuses a type the catalog does not define with UnknownEventTypeError', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    const error = await rejection(producer.emit('product/delete' as never, 'p1', { id: 'p1' } as never));
    expect(error).toBeInstanceOf(UnknownEventTypeError);
    expect((error as UnknownEventTypeError).code).toBe('UNKNOWN_EVENT_TYPE');
    expect(await readAll(log)).toEqual([]);
  });

  it('refuses a misspelt meta option instead of dropping it, writing nothing', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    const meta = JSON.parse('{"causationId":"evt-0"}');
    const error = await rejection(producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, meta));
    expect((error as { code?: string }).code).toBe('INVALID_OPTION');
    expect((error as Error).message).toMatch(/unknown option "causationId"; did you mean "causationid"\?/);
    expect(await readAll(log)).toEqual([]);
  });

  it('refuses an event over log.maxEventBytes with its size and the limit, before batching', async () => {
    const inner = memoryLog({ maxEventBytes: 400 });
    const { log, appends } = instrumentedLog(inner);
    const producer = createProducer({ log, catalog, source });
    const error = await rejection(producer.emit('product/create', 'p1', { id: 'p1', name: 'x'.repeat(400) }));
    expect(error).toBeInstanceOf(EventTooLargeError);
    const tooLarge = error as EventTooLargeError;
    expect(tooLarge.limit).toBe(400);
    expect(tooLarge.size).toBeGreaterThan(400);
    expect(tooLarge.message).toContain(`${tooLarge.size} bytes`);
    expect(appends).toHaveLength(0);
    // Multi-byte characters are counted in UTF-8 bytes, not string length.
    const multiByte = await rejection(producer.emit('product/create', 'p1', { id: 'p1', name: 'é'.repeat(150) }));
    expect(multiByte).toBeInstanceOf(EventTooLargeError);
    await producer.emit('product/create', 'p1', { id: 'p1', name: 'é'.repeat(20) });
    expect(appends).toHaveLength(1);
  });

  it('passes meta through: a repeated id is stored once and resolves with the same position', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    const time = new Date('2024-05-01T10:00:00Z');
    const first = await producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { id: 'evt-1', time, causationid: 'cause' });
    const second = await producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { id: 'evt-1', time });
    expect(second).toEqual(first);
    expect(first.id).toBe('evt-1');
    const records = await readAll(log);
    expect(records).toHaveLength(1);
    expect(records[0]?.event).toMatchObject({ id: 'evt-1', time: '2024-05-01T10:00:00.000Z', causationid: 'cause' });
  });

  it("lets one event name its own source, keeping the producer's for the rest", async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    await producer.emit('product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'shop/merchant/ann' });
    await producer.emit('product/create', 'p2', { id: 'p2', name: 'Cap' }, { source: undefined });
    const sources = (await readAll(log))
      .map((record) => record.event as { subject: string; source: string })
      .sort((a, b) => a.subject.localeCompare(b.subject));
    expect(sources.map((e) => e.source)).toEqual(['shop/merchant/ann', source]);
  });
});

describe('createProducer: emitMany', () => {
  it('appends all items in one append and resolves with positions in item order', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source });
    const positions = await producer.emitMany([
      { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } },
      { type: 'product/purchase', subject: 'p1', data: { id: 'p1', quantity: 1 } },
      { type: 'product/purchase', subject: 'p2', data: { id: 'p2', quantity: 3 } },
    ]);
    expect(appends).toHaveLength(1);
    const records = await readAll(log);
    const byId = new Map(records.map((r) => [(r.event as Envelope).id, r.position]));
    expect(positions).toEqual((appends[0] as Envelope[]).map((e) => ({ id: e.id, position: byId.get(e.id) })));
    expect(await producer.emitMany([])).toEqual([]);
  });

  it('writes none of the call when one item is invalid, and names the item index', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source });
    const error = await rejection(
      producer.emitMany([
        { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } },
        { type: 'product/purchase', subject: 'p1', data: { id: 'p1', quantity: 1 } },
        { type: 'product/purchase', subject: 'p1', data: { id: 'p1' } as never },
      ]),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain('items[2]');
    expect((error as ValidationError).message).toContain('data.quantity');
    await producer.flush();
    expect(appends).toHaveLength(0);
    expect(await readAll(log)).toEqual([]);
  });

  it('names the index of an unknown type or an oversize item too', async () => {
    const producer = createProducer({ log: memoryLog({ maxEventBytes: 300 }), catalog, source });
    const unknown = await rejection(
      producer.emitMany([
        { type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } },
        { type: 'nope', subject: 'p1', data: {} } as never,
      ]),
    );
    expect(unknown).toBeInstanceOf(UnknownEventTypeError);
    expect((unknown as Error).message).toContain('items[1]');
    const large = await rejection(
      producer.emitMany([{ type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'x'.repeat(300) } }]),
    );
    expect(large).toBeInstanceOf(EventTooLargeError);
    expect((large as Error).message).toContain('items[0]');
  });
});

describe('createProducer: batching', () => {
  it('gathers emits of one turn into batches of at most batchSize, in emit order', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source, batchSize: 100 });
    const calls: Promise<Emitted>[] = [];
    for (let i = 0; i < 1000; i++) calls.push(producer.emit('product/purchase', `p${i % 7}`, { id: `p${i % 7}`, quantity: i }));
    const positions = (await Promise.all(calls)).map((emitted) => emitted.position);
    expect(appends.map((batch) => batch.length)).toEqual(Array(10).fill(100));
    expect(appends.flat().map((e) => (e.data as { quantity: number }).quantity)).toEqual([...Array(1000).keys()]);
    expect(new Set(positions.map((p) => `${p.partition}/${p.offset}`)).size).toBe(1000);
    // Per-subject order: each subject's quantities come back increasing.
    const records = await readAll(log);
    const bySubject = new Map<string, number[]>();
    for (const record of records) {
      const event = record.event as Envelope<string, { quantity: number }>;
      bySubject.set(event.subject, [...(bySubject.get(event.subject) ?? []), event.data.quantity]);
    }
    for (const quantities of bySubject.values()) expect(quantities).toEqual([...quantities].sort((a, b) => a - b));
    const byPosition = new Map(records.map((r) => [`${r.position.partition}/${r.position.offset}`, r.event as Envelope]));
    positions.forEach((p, i) => {
      expect(byPosition.get(`${p.partition}/${p.offset}`)?.data).toMatchObject({ quantity: i });
    });
  });

  it('with linger 0, gathers the emits of one event-loop turn, across awaits, into one append', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source });
    const tasks = Array.from({ length: 5 }, async (_, i) => {
      for (let step = 0; step < i; step++) await Promise.resolve();
      return producer.emit('product/purchase', `p${i}`, { id: `p${i}`, quantity: i });
    });
    await Promise.all(tasks);
    expect(appends.map((b) => b.length)).toEqual([5]);
  });

  it('appends one batch at a time, never two concurrently', async () => {
    const instrumented = instrumentedLog();
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 10 });
    const open = instrumented.hold();
    const calls = Array.from({ length: 35 }, (_, i) => producer.emit('product/purchase', 'p1', { id: 'p1', quantity: i }));
    await waitFor(() => instrumented.appends.length === 1, 'the first append');
    open();
    await Promise.all(calls);
    expect(instrumented.maxInFlight).toBe(1);
    expect(instrumented.appends.map((b) => b.length)).toEqual([10, 10, 10, 5]);
  });

  it('lingers up to `linger` ms to gather emits from several turns', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source, linger: 50 });
    const first = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 });
    await vi.advanceTimersByTimeAsync(20);
    const second = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 2 });
    await vi.advanceTimersByTimeAsync(20);
    expect(appends).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20);
    await Promise.all([first, second]);
    expect(appends.map((b) => b.length)).toEqual([2]);
  });

  it('appends at once when batchSize events are queued, without waiting for linger', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source, linger: 60_000, batchSize: 3 });
    const calls = [1, 2, 3].map((q) => producer.emit('product/purchase', 'p1', { id: 'p1', quantity: q }));
    await Promise.all(calls);
    expect(appends.map((b) => b.length)).toEqual([3]);
  });

  it('keeps an emitMany call in one append even when it is larger than batchSize', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source, batchSize: 4 });
    const single = producer.emit('product/purchase', 'p0', { id: 'p0', quantity: 0 });
    const many = producer.emitMany(
      Array.from({ length: 6 }, (_, i) => ({ type: 'product/purchase' as const, subject: 'p1', data: { id: 'p1', quantity: i } })),
    );
    const last = producer.emit('product/purchase', 'p0', { id: 'p0', quantity: 9 });
    await Promise.all([single, many, last]);
    expect(appends.map((b) => b.length)).toEqual([1, 6, 1]);
  });

  it('rejects the calls of a failed append with its error; batches of other subjects are written', async () => {
    const instrumented = instrumentedLog();
    const failure = new Error('disk on fire');
    instrumented.failAppend((call) => (call === 1 ? failure : undefined));
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 10 });
    // Batches: 0-9 (p0), 10-19 (p1, fails), 20-29 (p2).
    const calls = Array.from({ length: 30 }, (_, i) => {
      const subject = `p${Math.floor(i / 10)}`;
      return producer.emit('product/purchase', subject, { id: subject, quantity: i });
    });
    const results = await Promise.allSettled(calls);
    const rejected = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    expect(rejected).toEqual([...Array(10).keys()].map((i) => i + 10));
    for (const i of rejected) expect((results[i] as PromiseRejectedResult).reason).toBe(failure);
    const records = await readAll(instrumented.log);
    expect(records.map((r) => (r.event as Envelope<string, { quantity: number }>).data.quantity).sort((a, b) => a - b)).toEqual(
      [...Array(30).keys()].filter((i) => i < 10 || i >= 20),
    );
  });
});

describe('createProducer: per-subject order across a failed append (issue 8 finding 8)', () => {
  const quantities = (records: LogRecord[], subject: string) =>
    records
      .map((r) => r.event as Envelope<string, { quantity: number }>)
      .filter((event) => event.subject === subject)
      .map((event) => event.data.quantity);

  it("writes no later event of a failed batch's subjects until the caller saw the failure; the caller's retry keeps order", async () => {
    const instrumented = instrumentedLog();
    const failure = new Error('disk on fire');
    instrumented.failAppend((call) => (call === 0 ? failure : undefined));
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 1 });
    const emit = (subject: string, quantity: number) => producer.emit('product/purchase', subject, { id: subject, quantity });
    // The caller retries each call that failed as soon as it learns of it, in the order it made them.
    const retrying = (subject: string, quantity: number) => emit(subject, quantity).catch(() => emit(subject, quantity));
    const first = retrying('p1', 1); // its append fails
    const second = retrying('p1', 2); // queued behind it
    const other = emit('p2', 7); // another subject
    await Promise.all([first, second, other]);
    const records = await readAll(instrumented.log);
    expect(quantities(records, 'p1')).toEqual([1, 2]);
    expect(quantities(records, 'p2')).toEqual([7]);
  });

  it('fails the queued calls of those subjects (and of subjects sharing a call with them) with AppendNotAttemptedError', async () => {
    const instrumented = instrumentedLog();
    const failure = new Error('disk on fire');
    instrumented.failAppend((call) => (call === 0 ? failure : undefined));
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 1 });
    const purchase = (subject: string, quantity: number) => ({
      type: 'product/purchase' as const,
      subject,
      data: { id: subject, quantity },
    });
    const failed = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 });
    const sameSubject = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 2 });
    const sharing = producer.emitMany([purchase('p3', 1), purchase('p1', 3)]); // p3 goes down with p1
    const followsShared = producer.emit('product/purchase', 'p3', { id: 'p3', quantity: 2 });
    const unrelated = producer.emit('product/purchase', 'p2', { id: 'p2', quantity: 1 });
    const results = await Promise.allSettled([failed, sameSubject, sharing, followsShared, unrelated]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason).toBe(failure);
    const errors = results.slice(1, 4).map((result) => (result as PromiseRejectedResult).reason as AppendNotAttemptedError);
    for (const error of errors) {
      expect(error).toBeInstanceOf(AppendNotAttemptedError);
      expect(error.code).toBe('LOG_WRITE_FAILED');
      expect(error.cause).toBe(failure);
    }
    expect(errors.map((error) => error.subjects)).toEqual([['p1'], ['p1'], ['p3']]);
    expect(errors[0]?.message).toContain('subject "p1"');
    expect(quantities(await readAll(instrumented.log), 'p2')).toEqual([1]);
    expect(await readAll(instrumented.log)).toHaveLength(1);
    // Calls made after the failure was reported go through.
    await producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 });
    expect(quantities(await readAll(instrumented.log), 'p1')).toEqual([1]);
  });

  it('fails calls of those subjects that wait for room (maxPending) too', async () => {
    const instrumented = instrumentedLog();
    const failure = new Error('disk on fire');
    instrumented.failAppend((call) => (call === 0 ? failure : undefined));
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 1, maxPending: 2 });
    const calls = [1, 2, 3, 4].map((quantity) => producer.emit('product/purchase', 'p1', { id: 'p1', quantity }));
    expect(producer.blocked).toBe(2);
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(await readAll(instrumented.log)).toEqual([]);
    expect(producer.pending).toBe(0);
    expect(producer.blocked).toBe(0);
  });
});

describe('createProducer: backpressure, flush and close', () => {
  it('holds calls beyond maxPending until appends make room, admitting them in order', async () => {
    const instrumented = instrumentedLog();
    const producer = createProducer({ log: instrumented.log, catalog, source, batchSize: 5, maxPending: 10 });
    const open = instrumented.hold();
    const settled: number[] = [];
    const calls = Array.from({ length: 30 }, (_, i) =>
      producer.emit('product/purchase', 'p1', { id: 'p1', quantity: i }).then(() => settled.push(i)),
    );
    await waitFor(() => instrumented.appends.length === 1, 'the first append');
    expect(producer.pending).toBe(10);
    expect(producer.blocked).toBe(20);
    let highest = 0;
    const watch = setInterval(() => {
      highest = Math.max(highest, producer.pending);
    }, 0);
    open();
    await Promise.all(calls);
    clearInterval(watch);
    expect(highest).toBeLessThanOrEqual(10);
    expect(producer.pending).toBe(0);
    expect(producer.blocked).toBe(0);
    expect(settled).toEqual([...Array(30).keys()]);
    expect(instrumented.appends.flat().map((e) => (e.data as { quantity: number }).quantity)).toEqual([...Array(30).keys()]);
  });

  it('admits a call larger than maxPending alone rather than waiting forever', async () => {
    const producer = createProducer({ log: memoryLog(), catalog, source, maxPending: 2 });
    const positions = await producer.emitMany(
      Array.from({ length: 5 }, (_, i) => ({ type: 'product/purchase' as const, subject: 'p1', data: { id: 'p1', quantity: i } })),
    );
    expect(positions).toHaveLength(5);
  });

  it('flush appends what lingers now and resolves once everything queued has settled', async () => {
    const { log, appends } = instrumentedLog();
    const producer = createProducer({ log, catalog, source, linger: 60_000 });
    let resolved = 0;
    for (let i = 0; i < 3; i++) void producer.emit('product/purchase', 'p1', { id: 'p1', quantity: i }).then(() => resolved++);
    const started = Date.now();
    await producer.flush();
    expect(Date.now() - started).toBeLessThan(30_000);
    await Promise.resolve();
    expect(resolved).toBe(3);
    expect(appends.map((b) => b.length)).toEqual([3]);
    await producer.flush(); // nothing queued: resolves at once
  });

  it('flush resolves even when the batch failed: the calls carry the error', async () => {
    const instrumented = instrumentedLog();
    instrumented.failAppend(() => new Error('nope'));
    const producer = createProducer({ log: instrumented.log, catalog, source });
    const call = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 });
    call.catch(() => {});
    await producer.flush();
    await expect(call).rejects.toThrow('nope');
  });

  it('close flushes, then refuses emits with ClosedError and leaves the log open', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source, linger: 60_000 });
    const queued = producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 });
    await producer.close();
    await expect(queued).resolves.toEqual({ id: expect.any(String), position: { partition: expect.any(String), offset: '0' } });
    const error = await rejection(producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 2 }));
    expect(error).toBeInstanceOf(ClosedError);
    expect((error as ClosedError).code).toBe('CLOSED');
    await expect(producer.emitMany([{ type: 'product/purchase', subject: 'p1', data: { id: 'p1', quantity: 3 } }])).rejects.toBeInstanceOf(
      ClosedError,
    );
    await producer.close();
    expect(await readAll(log)).toHaveLength(1);
    await log.append([createEvent(catalog, 'product/purchase', 'p1', { id: 'p1', quantity: 4 }, { source })]);
  });

  it('rejects calls whose append the closed log refused', async () => {
    const log = memoryLog();
    const producer = createProducer({ log, catalog, source });
    await log.close();
    await expect(producer.emit('product/purchase', 'p1', { id: 'p1', quantity: 1 })).rejects.toBeInstanceOf(ClosedError);
  });

  it('checks its options', () => {
    const log = memoryLog();
    expect(() => createProducer({ log, catalog, source: '' })).toThrow(/source/);
    expect(() => createProducer({ log, catalog, source, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createProducer({ log, catalog, source, maxPending: 1.5 })).toThrow(/maxPending/);
    expect(() => createProducer({ log, catalog, source, linger: -1 })).toThrow(/linger/);
    expect(() => createProducer({ log, catalog, source, linger: Number.NaN })).toThrow(/got NaN/);
    expect(() => createProducer({ log: {} as never, catalog, source })).toThrow(/log/);
    expect(() => createProducer({ log, catalog: undefined as never, source })).toThrow(/catalog/);
  });

  it('refuses unknown or misspelled options with INVALID_OPTION naming the closest one (issue 9 finding 5)', () => {
    const log = memoryLog();
    const attempt = (options: object) => () => createProducer({ log, catalog, source, ...options } as never);
    expect(attempt({ maxBatch: 10 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(attempt({ lingr: 5 })).toThrow(/unknown option "lingr"; did you mean "linger"/);
    expect(attempt({ batchsize: 5 })).toThrow(/did you mean "batchSize"/);
  });

  it('reports NaN as NaN, not as null (issue 9 finding 5)', async () => {
    const producer = createProducer({ log: memoryLog(), catalog, source });
    const error = await rejection(producer.emit('product/create', 'p1', { id: Number.NaN, name: 'Boot' } as never));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('data.id: expected string, got NaN');
    expect(() => createProducer({ log: memoryLog(), catalog, source, batchSize: Number.NaN })).toThrow(
      'batchSize must be a whole number ≥ 1, got NaN',
    );
  });

  it('refuses emitMany of something that is not an array with a coded error (issue 9 finding 5)', async () => {
    const producer = createProducer({ log: memoryLog(), catalog, source });
    const error = await rejection(producer.emitMany({ type: 'product/create' } as never));
    expect(error).toBeInstanceOf(RiverlogError);
    expect((error as RiverlogError).code).toBe('INVALID_OPTION');
    expect((error as Error).message).toMatch(/emitMany: items must be an array.*got an object/);
    const item = await rejection(producer.emitMany([null] as never));
    expect((item as RiverlogError).code).toBe('INVALID_OPTION');
    expect((item as Error).message).toContain('items[0]');
  });
});
