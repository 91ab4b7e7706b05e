// A loss that belongs to an older tenure of a partition — a commit made under
// lease epoch 1 refused with LEASE_LOST after this process took the partition
// again at epoch 2 — must not drop the newer tenure: the balancer would go on
// renewing a lease nobody builds under, and the partition would hang for good.
import { type Lease, type LeaseStore, memoryLeaseStore, memoryLog, memoryViewStore, type ViewStore } from '@riverlog/core';
import { LeaseBalancer } from '@riverlog/core/backend';
import { until } from '@riverlog/testing';
import { describe, expect, test } from 'vitest';
import { defineView } from './define-view.js';
import { catalog, purchased } from './retail.fixture.js';
import { runView } from './run-view.js';

const counts = defineView({
  name: 'counts',
  version: 1,
  catalog,
  initial: { n: 0 },
  key: () => ['all'],
  apply: { 'product/purchase': (row) => ({ n: row.n + 1 }) },
});
const TABLE = 'counts@1';
const GROUP = `view:${TABLE}`;

/** One call held until `release()`: `held` turns true when it arrives. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const state = { armed: false, held: false, release: () => open(), opened };
  return state;
}

describe('a stale lease loss', () => {
  test('a commit made under epoch 1 refused with LEASE_LOST after the partition was taken again at epoch 2 leaves the epoch-2 tenure building', async () => {
    const log = memoryLog({ partitions: 1 });
    const base = memoryViewStore();
    const refused: string[] = [];
    const commitGate = gate();
    const store: ViewStore = {
      ...base,
      commit: async (table, commit) => {
        // The first commit with rows under epoch 1 waits until the partition was lost and taken again.
        if (commitGate.armed && !commitGate.held && commit.fence?.['0'] === 1 && Object.keys(commit.positions).length > 0) {
          commitGate.held = true;
          await commitGate.opened;
        }
        try {
          await base.commit(table, commit);
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
        // Partition 0's renewal answers only after its lease ran out by the balancer's clock.
        if (renewGate.armed && !renewGate.held && lease.group === GROUP && lease.partition === '0') {
          renewGate.held = true;
          await renewGate.opened;
        }
        return baseLeases.renew(lease);
      },
    };
    let clock = 0;
    const runner = runView(counts, { log, store, leases: { store: leases, owner: 'x', ttlMs: 300, now: () => clock } });
    try {
      const epochs = () => runner.status().partitions.map((p) => `${p.partition}@${p.epoch}`);
      await until(() => epochs().join() === '0@1', 'partition 0 built at epoch 1');

      commitGate.armed = true;
      await log.append(Array.from({ length: 5 }, (_, i) => purchased(`p${i}`)));
      await until(() => commitGate.held, 'a commit under epoch 1 held');

      renewGate.armed = true;
      await until(() => renewGate.held, "partition 0's renewal held");
      clock += 1_000; // past the TTL: the lease is lost by our clock
      await until(() => epochs().length === 0, 'partition 0 lost');
      renewGate.release();
      await until(() => epochs().join() === '0@2', 'partition 0 taken again at epoch 2');

      commitGate.release(); // the epoch-1 commit is refused now: a loss of the old tenure
      await until(() => refused.includes('LEASE_LOST'), 'the epoch-1 commit refused');
      await log.append(Array.from({ length: 5 }, (_, i) => purchased(`q${i}`)));

      const positions = await runner.caughtUp({ timeoutMs: 5_000 });
      expect(positions['0']).toBeDefined();
      expect(epochs()).toEqual(['0@2']);
      expect(((await base.get(TABLE, 'all')) as { n: number } | undefined)?.n).toBe(10);
    } finally {
      commitGate.release();
      renewGate.release();
      await runner.stop();
    }
  });

  test("the balancer's lost hook names the epoch of the tenure that ended, so a late one is told from the next tenure", async () => {
    let clock = 0;
    const events: string[] = [];
    const balancer = new LeaseBalancer({
      store: memoryLeaseStore(),
      group: 'g',
      owner: 'x',
      ttlMs: 300,
      renewEveryMs: 100,
      now: () => clock,
      partitions: async () => ['0'],
      acquired: (partition, epoch) => void events.push(`acquired ${partition}@${epoch}`),
      lost: (partition, epoch) => void events.push(`lost ${partition}@${epoch}`),
    });
    try {
      await balancer.start();
      expect(events).toEqual(['acquired 0@1']);
      clock += 1_000; // past the TTL by the balancer's clock: lost, then taken again
      await balancer.refresh();
      await until(() => events.length === 3, 'lost and taken again');
      expect(events).toEqual(['acquired 0@1', 'lost 0@1', 'acquired 0@2']);
    } finally {
      await balancer.stop();
    }
  });
});
