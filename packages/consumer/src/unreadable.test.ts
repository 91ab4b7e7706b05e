import {
  createEvent,
  defineCatalog,
  defineEvent,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLog,
  optional,
  partitionForSubject,
  pastVersion,
  strict,
  t,
} from '@riverlog/core';
import { describe, expect, it, vi } from 'vitest';
import { createConsumer } from './consumer.js';
import type { ConsumerOptions } from './types.js';

// The catalog a consumer was deployed with, and the one a producer moved on to.
const v1 = defineCatalog([defineEvent('item/add', { data: { id: t.string, n: t.number } })]);
const v2 = defineCatalog([
  defineEvent('item/add', {
    version: 2,
    data: { id: t.string, n: t.number, unit: t.string },
    history: [pastVersion(1, strict({ id: t.string, n: t.number }), (d) => ({ ...d, unit: 'piece' }))],
  }),
]);
const withNote = defineCatalog([defineEvent('item/add', { data: { id: t.string, n: t.number, note: optional(t.string) } })]);

const source = 'unreadable-test';
const subjectIn = (partition: number, prefix: string) => {
  for (let i = 0; ; i++) if (partitionForSubject(`${prefix}${i}`, 2) === partition) return `${prefix}${i}`;
};
const a = subjectIn(0, 'a');
const b = subjectIn(1, 'b');

type Handled = { subject: string; n: number; data: unknown };

function run<C extends typeof v1 | typeof v2>(
  catalog: C,
  shared: { log: ReturnType<typeof memoryLog>; checkpoints: ReturnType<typeof memoryCheckpointStore> },
  extra: Partial<ConsumerOptions<C>> = {},
) {
  const handled: Handled[] = [];
  const errors: { stage: string; partition?: string; code?: string }[] = [];
  const deadLetters = memoryDeadLetters();
  const consumer = createConsumer({
    log: shared.log,
    catalog,
    group: 'g',
    checkpoints: shared.checkpoints,
    deadLetters,
    checkpointEvery: { records: 1 },
    handlers: {
      'item/add': (event: { subject: string; data: { n: number } }) => {
        handled.push({ subject: event.subject, n: event.data.n, data: event.data });
      },
    } as never,
    hooks: { onError: (error, info) => errors.push({ ...info, code: (error as { code?: string }).code }) },
    ...extra,
  } as ConsumerOptions<C>);
  return { consumer, handled, errors, deadLetters };
}

describe('events this catalog cannot read yet (issue 9 finding 1)', () => {
  it("stops the partition at an event of a newer version (onUnreadable: 'stop', the default), visibly; a restart with the newer catalog resumes it", async () => {
    const shared = { log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() };
    await shared.log.append([
      createEvent(v1, 'item/add', a, { id: a, n: 1 }, { source }),
      createEvent(v2, 'item/add', a, { id: a, n: 2, unit: 'kg' }, { source }),
      createEvent(v1, 'item/add', a, { id: a, n: 3 }, { source }),
      createEvent(v1, 'item/add', b, { id: b, n: 10 }, { source }),
      createEvent(v2, 'item/add', b, { id: b, n: 11, unit: 'kg' }, { source }),
    ]);
    const old = run(v1, shared);
    await old.consumer.start();
    await vi.waitFor(() => expect(old.consumer.status().partitions.filter((p) => p.state === 'stopped')).toHaveLength(2), {
      timeout: 5000,
    });
    const status = old.consumer.status();
    expect(status.partitions.map((p) => ({ partition: p.partition, finished: p.finished, reason: p.stopped?.reason }))).toEqual([
      { partition: '0', finished: '0', reason: 'unreadable' },
      { partition: '1', finished: '0', reason: 'unreadable' },
    ]);
    expect((status.partitions[0]?.stopped?.error as Error).message).toMatch(/newer than this catalog/);
    expect(old.errors).toEqual([
      { stage: 'unreadable', partition: expect.any(String), code: 'UNREADABLE_VERSION' },
      { stage: 'unreadable', partition: expect.any(String), code: 'UNREADABLE_VERSION' },
    ]);
    expect(old.deadLetters.letters.map((l) => `${l.code} ${l.record.position.partition}/${l.record.position.offset}`).sort()).toEqual([
      'UNREADABLE_VERSION 0/1',
      'UNREADABLE_VERSION 1/1',
    ]);
    await expect(old.consumer.caughtUp({ timeoutMs: 5000 })).rejects.toMatchObject({ code: 'UNREADABLE_VERSION' });
    expect(old.handled.map((h) => h.n)).toEqual(expect.arrayContaining([1, 10]));
    expect(old.handled).toHaveLength(2);
    await old.consumer.stop();
    // Nothing moved past the events it could not read.
    expect(await shared.checkpoints.load('g')).toEqual({ '0': '0', '1': '0' });

    const upgraded = run(v2, shared);
    await upgraded.consumer.start();
    await upgraded.consumer.caughtUp({ timeoutMs: 5000 });
    await upgraded.consumer.stop();
    expect(upgraded.handled.map((h) => h.n).sort((x, y) => x - y)).toEqual([2, 3, 11]);
    // The v1 event read by the v2 consumer is upcast.
    expect(upgraded.handled.find((h) => h.n === 3)?.data).toEqual({ id: a, n: 3, unit: 'piece' });
  });

  it('stops the partition at a payload that fails its schema, too', async () => {
    const shared = { log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() };
    const bad = { ...createEvent(v1, 'item/add', a, { id: a, n: 1 }, { source }), data: { id: a, n: 'one' } };
    await shared.log.append([
      bad,
      createEvent(v1, 'item/add', a, { id: a, n: 2 }, { source }),
      createEvent(v1, 'item/add', b, { id: b, n: 3 }, { source }),
    ]);
    const consumer = run(v1, shared);
    await consumer.consumer.start();
    await vi.waitFor(() => expect(consumer.consumer.status().partitions.find((p) => p.partition === '0')?.state).toBe('stopped'), {
      timeout: 5000,
    });
    expect(consumer.errors).toEqual([{ stage: 'unreadable', partition: '0', code: 'DECODE_FAILED' }]);
    expect(consumer.deadLetters.letters[0]?.reason).toContain('data.n: expected number, got "one"');
    await vi.waitFor(() => expect(consumer.handled.map((h) => h.n)).toEqual([3]), { timeout: 5000 });
    await consumer.consumer.stop();
    expect((await shared.checkpoints.load('g'))['0']).toBeUndefined();
  });

  it("dead-letters such events and goes on with onUnreadable: 'dead-letter'", async () => {
    const shared = { log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() };
    await shared.log.append([
      createEvent(v2, 'item/add', a, { id: a, n: 1, unit: 'kg' }, { source }),
      { ...createEvent(v1, 'item/add', a, { id: a, n: 2 }, { source }), data: { id: a, n: 'two' } },
      createEvent(v1, 'item/add', a, { id: a, n: 3 }, { source }),
    ]);
    const consumer = run(v1, shared, { onUnreadable: 'dead-letter' });
    await consumer.consumer.start();
    await consumer.consumer.caughtUp({ timeoutMs: 5000 });
    await consumer.consumer.stop();
    expect(consumer.handled.map((h) => h.n)).toEqual([3]);
    expect(consumer.deadLetters.letters.map((l) => l.code)).toEqual(['UNREADABLE_VERSION', 'DECODE_FAILED']);
    expect(consumer.errors).toEqual([]);
    expect(await shared.checkpoints.load('g')).toEqual({ '0': '2' });
  });

  it('reads an event with a field it does not know, without the field (tolerant reader)', async () => {
    const shared = { log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() };
    await shared.log.append([createEvent(withNote, 'item/add', a, { id: a, n: 1, note: 'gift' }, { source })]);
    const consumer = run(v1, shared);
    await consumer.consumer.start();
    await consumer.consumer.caughtUp({ timeoutMs: 5000 });
    await consumer.consumer.stop();
    expect(consumer.handled).toEqual([{ subject: a, n: 1, data: { id: a, n: 1 } }]);
    expect(consumer.deadLetters.letters).toEqual([]);
  });
});
