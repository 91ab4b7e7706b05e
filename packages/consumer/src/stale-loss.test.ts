// A loss that belongs to an older tenure of a partition — a checkpoint saved
// under lease epoch 1 refused with LEASE_LOST after this process took the
// partition again at epoch 2 — must not stop the newer tenure's worker: the
// balancer would go on renewing a lease nobody works under, for good.
import {
  type CheckpointStore,
  createEvent,
  defineCatalog,
  defineEvent,
  type Lease,
  type LeaseStore,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLeaseStore,
  memoryLog,
  t,
} from '@riverlog/core';
import { until } from '@riverlog/testing';
import { describe, expect, it } from 'vitest';
import { createConsumer } from './consumer.js';

const Ping = defineEvent('ping', { data: { n: t.number } });
const catalog = defineCatalog([Ping]);
const ping = (n: number) => createEvent(catalog, 'ping', `s${n}`, { n }, { source: 'test' });
const GROUP = 'stale';

/** One call held until `release()`: `held` turns true when it arrives. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { armed: false, held: false, release: () => open(), opened };
}

describe('a stale lease loss', () => {
  it('a checkpoint saved under epoch 1 refused with LEASE_LOST after the partition was taken again at epoch 2 leaves the epoch-2 worker running', async () => {
    const log = memoryLog({ partitions: 1 });
    const base = memoryCheckpointStore();
    const refused: string[] = [];
    const saveGate = gate();
    const checkpoints: CheckpointStore = {
      ...base,
      save: async (group, positions, fence) => {
        // The first save of progress under epoch 1 waits until the partition was lost and taken again.
        if (saveGate.armed && !saveGate.held && fence?.['0'] === 1 && positions['0'] !== undefined) {
          saveGate.held = true;
          await saveGate.opened;
        }
        try {
          await base.save(group, positions, fence);
        } catch (error) {
          refused.push((error as { code?: string }).code ?? 'unknown');
          throw error;
        }
      },
    };
    const baseLeases = memoryLeaseStore();
    const renewGate = gate();
    const leases: LeaseStore = {
      ...baseLeases,
      renew: async (lease: Lease) => {
        // Partition 0's renewal answers only after its lease ran out by the consumer's clock.
        if (renewGate.armed && !renewGate.held && lease.group === GROUP && lease.partition === '0') {
          renewGate.held = true;
          await renewGate.opened;
        }
        return baseLeases.renew(lease);
      },
    };
    let clock = 0;
    const handled: number[] = [];
    const consumer = createConsumer({
      log,
      catalog,
      group: GROUP,
      checkpoints,
      deadLetters: memoryDeadLetters(),
      checkpointEvery: { records: 1 },
      leases: { store: leases, ttlMs: 300, owner: 'x', now: () => clock },
      handlers: { ping: (event) => void handled.push(event.data.n) },
    });
    try {
      await consumer.start();
      const epochs = () =>
        consumer
          .status()
          .partitions.filter((p) => p.state !== 'stopped')
          .map((p) => `${p.partition}@${p.epoch}`);
      await until(() => epochs().join() === '0@1', 'partition 0 worked on at epoch 1');

      saveGate.armed = true;
      await log.append([ping(1)]);
      await until(() => saveGate.held, 'a checkpoint under epoch 1 held');

      renewGate.armed = true;
      await until(() => renewGate.held, "partition 0's renewal held");
      clock += 1_000; // past the TTL: the lease is lost by our clock
      await until(() => consumer.assigned().length === 0, 'partition 0 lost');
      renewGate.release();
      await until(() => epochs().join() === '0@2', 'partition 0 taken again at epoch 2');

      saveGate.release(); // the epoch-1 save is refused now: a loss of the old tenure
      await until(() => refused.includes('LEASE_LOST'), 'the epoch-1 checkpoint refused');
      await log.append([ping(2)]);

      await until(() => handled.includes(2), 'the event appended after the stale loss handled', 3_000);
      expect(consumer.assigned()).toEqual(['0']);
      expect(epochs()).toEqual(['0@2']);
      await consumer.caughtUp({ timeoutMs: 3_000 });
      expect((await base.load(GROUP))['0']).toBeDefined();
    } finally {
      saveGate.release();
      renewGate.release();
      await consumer.stop();
    }
  });
});
