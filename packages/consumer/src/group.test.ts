import {
  type CheckpointStore,
  createEvent,
  defineCatalog,
  defineEvent,
  type EventLog,
  type GroupSubscribable,
  type GroupSubscribeOptions,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLeaseStore,
  memoryLog,
  t,
} from '@riverlog/core';
import { describe, expect, it, vi } from 'vitest';
import { createConsumer } from './consumer.js';

const catalog = defineCatalog([defineEvent('ping', { data: { n: t.number } })]);
const ping = (subject: string, n: number) => createEvent(catalog, 'ping', subject, { n }, { source: 'group-test' });

/**
 * A log that runs consumer groups itself, as the Kafka log does (see
 * GroupSubscribeOptions): it assigns every partition to the one member,
 * starts each where the named store says (or where the group offsets it
 * keeps say), and commits its group offsets after each batch only when no
 * store was named.
 */
function groupLog() {
  const inner = memoryLog({ partitions: 2 });
  const subscriptions: GroupSubscribeOptions[] = [];
  const groupOffsets: Record<string, string> = {};
  const log: EventLog & GroupSubscribable = {
    uri: 'fake-group:log',
    maxEventBytes: inner.maxEventBytes,
    append: (events) => inner.append(events),
    read: (options) => inner.read(options),
    partitions: () => inner.partitions(),
    close: () => inner.close(),
    async subscribe(options) {
      subscriptions.push(options);
      const controller = new AbortController();
      const partitions = (await inner.partitions()).map((p) => p.id);
      options.onAssigned?.(partitions);
      const loops = partitions.map(async (partition) => {
        const after = options.checkpoints ? await options.checkpoints.load(partition) : groupOffsets[partition];
        const from = after === undefined ? 'earliest' : { after: { [partition]: after } };
        for await (const batch of inner.read({ partitions: [partition], from, follow: true, signal: controller.signal })) {
          const control = { partition, heartbeat: async () => {}, isActive: () => !controller.signal.aborted };
          const stop = await options.onBatch(batch, control);
          const last = stop ? stop.lastFinished : batch.records[batch.records.length - 1]?.position.offset;
          if (!options.checkpoints && last !== undefined) groupOffsets[partition] = last;
        }
      });
      return {
        async stop() {
          controller.abort();
          await Promise.allSettled(loops);
          options.onRevoked?.(partitions);
        },
      };
    },
  };
  return { log, subscriptions, groupOffsets };
}

const handlers = (handled: number[]) => ({
  ping: (event: { data: { n: number } }) => {
    handled.push(event.data.n);
  },
});

describe('createConsumer on a log that runs consumer groups (Kafka), one checkpoint (issue 8 finding 7)', () => {
  it("without checkpoints: the log's group offsets are the one checkpoint", async () => {
    const { log, subscriptions, groupOffsets } = groupLog();
    const handled: number[] = [];
    const consumer = createConsumer({ log, catalog, group: 'g', deadLetters: memoryDeadLetters(), handlers: handlers(handled) });
    await log.append([ping('a', 1), ping('b', 2), ping('c', 3)]);
    await consumer.start();
    await consumer.caughtUp({ timeoutMs: 5000 });
    await consumer.stop();
    expect(handled.sort()).toEqual([1, 2, 3]);
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]?.checkpoints).toBeUndefined();
    expect(subscriptions[0]?.group).toBe('g');
    expect(Object.keys(groupOffsets).length).toBeGreaterThan(0);
    expect(consumer.status().assignment).toBe('group');
  });

  it('caughtUp() resolves for partitions assigned at their end, whose offsets only the log knows', async () => {
    const { log } = groupLog();
    await log.append([ping('a', 1), ping('b', 2), ping('c', 3)]);
    const first = createConsumer({ log, catalog, group: 'g', deadLetters: memoryDeadLetters(), handlers: handlers([]) });
    await first.start();
    await first.caughtUp({ timeoutMs: 5000 });
    await first.stop();
    const handled: number[] = [];
    const second = createConsumer({ log, catalog, group: 'g', deadLetters: memoryDeadLetters(), handlers: handlers(handled) });
    await second.start();
    await second.caughtUp({ timeoutMs: 5000 });
    await log.append([ping('a', 4)]);
    await second.caughtUp({ timeoutMs: 5000 });
    await second.stop();
    expect(handled).toEqual([4]);
  });

  it('with checkpoints: that store only, loaded where a partition starts and written before a batch returns; the group offsets are never used', async () => {
    const { log, subscriptions, groupOffsets } = groupLog();
    const inner = memoryCheckpointStore();
    let down = false;
    const saves: string[] = [];
    const checkpoints: CheckpointStore = {
      load: (group) => inner.load(group),
      async save(group, positions, fence) {
        if (down) throw new Error('store down');
        saves.push(JSON.stringify(positions));
        await inner.save(group, positions, fence);
      },
      close: () => inner.close(),
    };
    const handled: number[] = [];
    const consumer = createConsumer({
      log,
      catalog,
      group: 'g',
      checkpoints,
      deadLetters: memoryDeadLetters(),
      handlers: handlers(handled),
    });
    const [first] = await log.append([ping('a', 1)]);
    await log.append([ping('a', 2)]);
    await inner.save('g', { [first?.partition as string]: first?.offset as string });
    await consumer.start();
    await consumer.caughtUp({ timeoutMs: 5000 });
    // The partition resumed after the stored checkpoint.
    expect(handled).toEqual([2]);
    expect(typeof subscriptions[0]?.checkpoints?.load).toBe('function');

    // A failing save holds the batch: it does not return (nothing could be committed past it) until the save works.
    down = true;
    await log.append([ping('a', 3)]);
    await vi.waitFor(() => expect(consumer.status().retries).toMatchObject([{ stage: 'checkpoint' }]), { timeout: 5000 });
    expect(handled).toContain(3);
    down = false;
    await consumer.caughtUp({ timeoutMs: 5000 });
    await consumer.stop();
    expect(consumer.status().retries).toEqual([]);
    expect(await inner.load('g')).toEqual(expect.objectContaining({ [first?.partition as string]: '2' }));
    expect(groupOffsets).toEqual({});
    expect(saves.length).toBeGreaterThan(0);
  });

  it('with leases: fenced leases share the partitions, and the log is not asked to run a group', async () => {
    const { log, subscriptions } = groupLog();
    const handled: number[] = [];
    const consumer = createConsumer({
      log,
      catalog,
      group: 'g',
      checkpoints: memoryCheckpointStore(),
      deadLetters: memoryDeadLetters(),
      leases: { store: memoryLeaseStore(), ttlMs: 300 },
      handlers: handlers(handled),
    });
    await log.append([ping('a', 1), ping('b', 2)]);
    await consumer.start();
    await consumer.caughtUp({ timeoutMs: 5000 });
    await consumer.stop();
    expect(handled.sort()).toEqual([1, 2]);
    expect(subscriptions).toEqual([]);
    expect(consumer.status().assignment).toBe('leases');
  });
});
