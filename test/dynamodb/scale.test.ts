// Issue 11, "Done when": three view-builder processes on DynamoDB (view store,
// leases and the views' checkpoints on the engine) share one view over a
// 4-partition SQLite log of 100,000 events with a skewed key mix. Its rows are
// fed by every partition (a global total, per-category totals) and by one
// (per-customer rows with an order-sensitive hash chain). While they work, one
// random process is SIGKILLed every 0.5–2 s and restarted (30 times), and
// another is SIGSTOPped until every partition it held was taken over by
// another process, then SIGCONTed (10 times; every other process has a lease
// clock that stands still while it is stopped, so resumed it still believes
// in its leases and only the store's fence keeps its late commits out).
// At the end the view must equal a pure fold of the log, row by row.
//
// The builders, the model and the chaos are test/scale's (test/fixtures/scale-builder.mjs
// with its `dynamodb` option, test/scale/chaos.ts); DynamoDB holds no write locks, so unlike the
// SQLite test every pause can be waited on until its partitions move.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ulid } from '@riverlog/core';
import { dynamoLeaseStore, dynamoViewStore } from '@riverlog/dynamodb';
import { sqliteLog } from '@riverlog/sqlite';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { ledgerView, makeEvents } from '../fixtures/scale-model.mjs';
import { expectPureFold, runChaos } from '../scale/chaos.js';
import { Builder, type BuilderConfig, type Fact } from '../scale/support.js';
import { describeDynamo, dynamoClient, endpoint, uniqueTable } from './support.js';

const EVENTS = 100_000;
/** Appended before the builders start; the rest arrives in chunks during the chaos. */
const FIRST = 40_000;
const CHUNK = 4_000;
const KILLS = 30;
const STOPS = 10;
// dynalite serves ~100–400 calls/s on these machines, one at a time: a lease renewal waits behind the
// builders' row writes, so the TTL leaves it room (a renewal later than the TTL loses the lease).
const TTL_MS = 3000;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-dynamo-scale-'));
});

afterEach(async () => {
  await Builder.reapAll();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describeDynamo('three view builders on DynamoDB under SIGKILL and SIGSTOP', () => {
  test(
    '30 SIGKILLs and 10 SIGSTOPs past the lease over 100,000 events: the view equals a pure fold, row by row',
    async () => {
      const started = Date.now();
      const client = dynamoClient();
      const prefix = `scale-${ulid().toLowerCase()}.`;
      const leaseTable = uniqueTable('scale-leases');
      const dynamodb = { endpoint: endpoint as string, prefix, table: leaseTable };
      const view = ledgerView();
      const GROUP = `view:${view.table}`;
      // 500 customers (not test/scale's 5,000): fewer distinct rows per commit, so the run fits in
      // dynalite's few hundred calls a second; the total and category rows are fed by every partition still.
      const events = makeEvents(EVENTS, { seed: 11, customers: 500 });

      const logPath = join(dir, 'log.db');
      const log = sqliteLog({ path: logPath, partitions: 4 });
      for (let i = 0; i < FIRST; i += 10_000) await log.append(events.slice(i, i + 10_000));
      const store = dynamoViewStore({ client, prefix, createTables: true });
      const leases = dynamoLeaseStore({ client, table: leaseTable, createTables: true });

      const journal: Fact[] = [];
      let generation = 0;
      const config = (slot: number): BuilderConfig => ({
        stallingClock: generation % 2 === 0,
        log: logPath,
        store: '',
        leases: '',
        dynamodb,
        owner: `b${slot}-${generation++}`,
        views: ['ledger'],
        ttlMs: TTL_MS,
        batchSize: 1000,
        commitSize: 4000,
      });
      const slots = [0, 1, 2].map((slot) => new Builder(config(slot), journal));
      await Promise.all(slots.map((builder) => builder.ready()));
      const situation = async () =>
        `leases ${JSON.stringify(await leases.list(GROUP))}; builders ${JSON.stringify(
          slots.map((b) => ({ owner: b.owner, paused: b.paused, alive: b.alive, stderr: b.stderr().slice(-500) })),
        )}`;

      const { kills, stops, stopTimes, ended } = await runChaos({
        slots,
        config,
        journal,
        log,
        events,
        appended: FIRST,
        chunk: CHUNK,
        kills: KILLS,
        stops: STOPS,
        leases: () => leases.list(GROUP),
        // Up to ~60 s was seen on a loaded machine: the takers may themselves be starting after a kill.
        takeoverTimeoutMs: 90_000,
        situation,
      });
      const { caughtUp, rows } = await expectPureFold({
        log,
        store,
        table: view.table,
        slots,
        total: EVENTS,
        catchUpTimeoutMs: 180_000,
        situation,
      });

      const accepted = journal.filter((fact) => fact.word === 'accepted');
      const refused = journal.filter((fact) => fact.word === 'refused');
      const byCode = (code: string) => refused.filter((fact) => fact.data.code === code).length;
      const epochs = new Map<string, Set<number>>();
      for (const fact of accepted) {
        for (const [partition, epoch] of Object.entries((fact.data.fence ?? {}) as Record<string, number>)) {
          epochs.set(partition, (epochs.get(partition) ?? new Set()).add(epoch));
        }
      }
      console.info(
        `DynamoDB scale: ${EVENTS} events, ${rows} rows, ${kills} kills, ${stops} stops (paused ${Math.min(...stopTimes)}–${Math.max(...stopTimes)} ms), ` +
          `chaos ${((ended - started) / 1000).toFixed(1)} s, catch-up after it ${((caughtUp - ended) / 1000).toFixed(1)} s; ` +
          `commits accepted ${accepted.length}, refused LEASE_LOST ${byCode('LEASE_LOST')}, CONFLICT ${byCode('CONFLICT')}; ` +
          `epochs per partition ${JSON.stringify(Object.fromEntries([...epochs].map(([p, s]) => [p, s.size])))}`,
      );
      expect(kills).toBe(KILLS);
      expect(stops).toBe(STOPS);
      // Every partition changed hands several times.
      for (const partition of ['0', '1', '2', '3']) expect(epochs.get(partition)?.size ?? 0).toBeGreaterThanOrEqual(3);

      await Promise.all([log.close(), store.close(), leases.close()]);
      const names = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
      for (const name of names.filter((n) => n.startsWith(prefix) || n === leaseTable)) {
        await client.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
      }
      client.destroy();
    },
    7 * 60_000,
  );
});
