// Issue 8, "Done when": lost updates at scale. Three builder processes share one
// view over a 4-partition SQLite log of 200,000 events (skewed keys) through
// SQLite leases; its rows are fed by every partition (a global total,
// per-category totals) and by one (per-customer rows with an order-sensitive
// hash chain). While they work, one random process is SIGKILLed every
// 0.5–2 s and restarted (30 times), and another is SIGSTOPped until every
// partition it held was taken by another process, then SIGCONTed (10 times;
// a pause that lands inside a write, holding a file's write lock, is ended
// after 2 × TTL and counted apart: see `stuckProbe` below; the chaos is
// test/scale/chaos.ts, shared with the DynamoDB scale test).
// At the end the view must equal a pure fold of the log, row by row, and the
// audit must show that no write was accepted under a lease after its
// partition had been claimed under a newer one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLeaseStore, sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ledgerView, makeEvents } from '../fixtures/scale-model.mjs';
import { type Audit, openAudit } from './audit.js';
import { expectPureFold, runChaos } from './chaos.js';
import { Builder, type BuilderConfig, type Fact, writeLocked } from './support.js';

const EVENTS = 200_000;
/** Appended before the builders start; the rest arrives in chunks during the chaos. */
const FIRST = 50_000;
const KILLS = 30;
const STOPS = 10;
const TTL_MS = 1500;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-scale-lost-'));
});

afterEach(async () => {
  await Builder.reapAll();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('lost updates at scale (SQLite log, view store and leases, 3 processes)', () => {
  test(
    '30 SIGKILLs and 10 SIGSTOPs past the lease: the view equals a pure fold row by row, and no stale write was accepted',
    async () => {
      const started = Date.now();
      // Leases in a file of their own: a process paused inside a view commit holds the view store's
      // write lock, and with the leases in that file nobody could take its partitions until it resumed.
      const paths = { log: join(dir, 'log.db'), store: join(dir, 'views.db'), leases: join(dir, 'leases.db') };
      const view = ledgerView();
      const events = makeEvents(EVENTS, { seed: 8 });

      const log = sqliteLog({ path: paths.log, partitions: 4 });
      for (let i = 0; i < FIRST; i += 10_000) await log.append(events.slice(i, i + 10_000));
      // The stores' tables exist before the audit's triggers go on them.
      const store = sqliteViewStore({ path: paths.store });
      const leases = sqliteLeaseStore({ path: paths.leases });
      const audit: Audit = openAudit(paths.store, paths.leases, view.table);

      const journal: Fact[] = [];
      let generation = 0;
      // Every other process gets a lease clock that stands still while it is stopped: resumed, it still
      // believes in its leases, and only the store's fence keeps its late commits out.
      const config = (slot: number): BuilderConfig => ({
        stallingClock: generation % 2 === 0,
        log: paths.log,
        store: paths.store,
        leases: paths.leases,
        owner: `b${slot}-${generation++}`,
        views: ['ledger'],
        ttlMs: TTL_MS,
        batchSize: 500,
        commitSize: 2000,
      });
      const slots = [0, 1, 2].map((slot) => new Builder(config(slot), journal));
      await Promise.all(slots.map((builder) => builder.ready()));
      const situation = async () =>
        `leases ${JSON.stringify(await audit.leases())}; builders ${JSON.stringify(
          slots.map((builder) => ({
            owner: builder.owner,
            paused: builder.paused,
            alive: builder.alive,
            last: builder.facts.filter((fact) => fact.word === 'own').slice(-2),
            stderr: builder.stderr().slice(-500),
          })),
        )}`;

      // A process paused inside a write holds that file's write lock, and SQLite cannot break a live
      // process's lock:
      //  - inside a view commit, nobody can write the view store (the new owners' claims wait) and no process
      //    can start (runView's createTable takes the lock), but the leases still move;
      //  - inside a lease write (one statement, but its fsync takes a while), nobody can take a lease: its
      //    partitions cannot move at all while it is stopped.
      // Such a pause is real (a host stalls mid-write) and the others stay correct (they retry STORE_BUSY), but
      // it can only end when the process resumes. So every other pause starts at a moment when neither file
      // is write-locked, the others land anywhere; and a pause is ended once the process has been stopped for
      // 2 × TTL (past its lease) and one of the two files has stayed write-locked for a whole second (no
      // running process holds it that long: each write is one short transaction). Those are counted apart.
      const LOCKED_FOR_MS = 1000;
      const files = [paths.leases, paths.store];
      const chaos = await runChaos({
        slots,
        config,
        journal,
        log,
        events,
        appended: FIRST,
        chunk: 5000,
        kills: KILLS,
        stops: STOPS,
        leases: () => audit.leases(),
        takeoverTimeoutMs: 60_000,
        situation,
        beforePause: async (stop, failed) => {
          if (stop % 2 === 0)
            await until(() => files.every((file) => !writeLocked(file)), 'a moment with both store files unlocked', 30_000, failed);
        },
        stuckProbe: () => {
          /** Per file, since when every probe found it write-locked. */
          const lockedSince = new Map<string, number>();
          let lastProbe = 0;
          return (pausedAt) => {
            if (Date.now() - lastProbe < 50) return undefined;
            lastProbe = Date.now();
            for (const file of files) {
              if (!writeLocked(file)) lockedSince.delete(file);
              else if (!lockedSince.has(file)) lockedSince.set(file, lastProbe);
            }
            const locked = files.find((file) => lastProbe - (lockedSince.get(file) ?? lastProbe) >= LOCKED_FOR_MS);
            if (locked === undefined || lastProbe - pausedAt < 2 * TTL_MS) return undefined;
            return locked === paths.leases ? 'leases' : 'views';
          };
        },
      });
      const { caughtUp } = await expectPureFold({
        log,
        store,
        table: view.table,
        slots,
        total: EVENTS,
        catchUpTimeoutMs: 240_000,
        situation,
      });

      const report = audit.check(journal);
      const { kills, stops, takenOver, stuck, stopTimes, ended } = chaos;
      console.info(
        `lost updates at scale: ${EVENTS} events, ${kills} kills, ${stops} stops (paused ${Math.min(...stopTimes)}–${Math.max(...stopTimes)} ms, ` +
          `${takenOver} taken over, ${stuck.length} holding a write lock [${stuck.join(', ')}]), ` +
          `chaos ${((ended - started) / 1000).toFixed(1)} s, catch-up after it ${((caughtUp - ended) / 1000).toFixed(1)} s; ` +
          JSON.stringify(report.summary),
      );
      expect(report.violations.slice(0, 20)).toEqual([]);
      expect(kills).toBe(KILLS);
      expect(takenOver).toBe(STOPS);
      expect(stops).toBe(STOPS + stuck.length);
      // The audit saw work: every partition written under several epochs (it changed hands).
      for (const partition of ['0', '1', '2', '3']) expect(report.summary.epochs[partition] ?? 0).toBeGreaterThanOrEqual(3);

      audit.close();
      await Promise.all([log.close(), store.close(), leases.close()]);
    },
    8 * 60_000,
  );
});
