// Issue 8, "Done when": clock. Two builder processes share a view through
// SQLite leases; one runs with its lease clock 60 s ahead of the other's (the
// clock is injected through `leases.now`; the machine's is left alone). The
// membership changes while events arrive: the other process is killed and
// restarted, the skewed one stops cleanly and comes back with a clock that
// jumps 60 s ahead while it runs, and is killed and restarted skewed again.
// Nothing may be applied twice (the view equals a pure fold, row by row, and
// the epochs of accepted commits never go down per partition), and no
// partition may have two active owners, as both sides report them, for longer
// than one renewal interval.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLeaseStore, sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ledgerView, makeEvents, pureFold } from '../fixtures/scale-model.mjs';
import { openAudit } from './audit.js';
import { ownershipOverlaps } from './ownership.js';
import { Builder, type BuilderConfig, differences, type Fact, firstUnexpectedExit, readWholeLog, readWholeTable } from './support.js';

const EVENTS = 60_000;
const TTL_MS = 1500;
/** How often runView renews its leases: a third of the TTL. */
const RENEW_MS = TTL_MS / 3;
const SKEW_MS = 60_000;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-scale-clock-'));
});

afterEach(async () => {
  await Builder.reapAll();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('clock skew between processes', () => {
  test(
    'one process 60 s ahead: nothing applied twice, never two active owners for longer than a renewal interval',
    async () => {
      const started = Date.now();
      const paths = { log: join(dir, 'log.db'), store: join(dir, 'views.db') };
      const view = ledgerView();
      const events = makeEvents(EVENTS, { seed: 3, prefix: 'k' });
      const log = sqliteLog({ path: paths.log, partitions: 4 });
      const store = sqliteViewStore({ path: paths.store });
      const leases = sqliteLeaseStore({ path: paths.store });
      const audit = openAudit(paths.store, paths.store, view.table);

      const journal: Fact[] = [];
      let generation = 0;
      const config = (name: string, clock: { skewMs?: number; skewAfterMs?: number }): BuilderConfig => ({
        log: paths.log,
        store: paths.store,
        leases: paths.store,
        owner: `${name}-${generation++}`,
        views: ['ledger'],
        ttlMs: TTL_MS,
        batchSize: 500,
        commitSize: 2000,
        sampleMs: 5,
        ...clock,
      });
      /** When each builder stopped being able to own anything (killed), by owner. */
      const ended = new Map<string, number>();
      const failed = () => firstUnexpectedExit([...Builder.all]);
      let appended = 0;
      const appendSome = async (count: number) => {
        const end = Math.min(EVENTS, appended + count);
        if (end > appended) await log.append(events.slice(appended, end));
        appended = end;
      };
      /** Both live builders hold two partitions each (as their leases say), after events were folded. */
      const settled = async (a: Builder, b: Builder, what: string) => {
        await appendSome(5000);
        await until(
          async () => {
            const live = await audit.liveLeases();
            const count = (owner: string) => live.filter((lease) => lease.owner === owner).length;
            return count(a.owner) === 2 && count(b.owner) === 2;
          },
          `${what}: two partitions each for ${a.owner} and ${b.owner}`,
          60_000,
          failed,
        );
      };
      const kill = async (builder: Builder) => {
        const at = Date.now();
        await builder.kill();
        ended.set(builder.owner, at);
      };

      let ahead = new Builder(config('ahead', { skewMs: SKEW_MS }), journal);
      let normal = new Builder(config('normal', {}), journal);
      await Promise.all([ahead.ready(), normal.ready()]);
      await settled(ahead, normal, 'start');

      // The normal one dies: the one ahead takes its partitions once their counters stood still for a TTL.
      await kill(normal);
      await appendSome(5000);
      normal = new Builder(config('normal', {}), journal);
      await settled(ahead, normal, 'after the normal one was killed and restarted');

      // The one ahead stops cleanly; it comes back in step, and its clock jumps 60 s ahead 2 s later.
      await ahead.terminate();
      await appendSome(5000);
      ahead = new Builder(config('jumping', { skewMs: SKEW_MS, skewAfterMs: 2000 }), journal);
      await settled(ahead, normal, 'after the jumping one joined');
      const jumping = ahead;
      await until(() => jumping.facts.some((fact) => fact.word === 'clock'), 'the clock of the jumping one to jump', 30_000, failed);
      await appendSome(10_000);
      await settled(ahead, normal, 'after the jump');

      // The jumped one dies and comes back 60 s ahead from its start.
      await kill(ahead);
      await appendSome(10_000);
      ahead = new Builder(config('ahead', { skewMs: SKEW_MS }), journal);
      await settled(ahead, normal, 'after the one ahead was killed and restarted');
      await appendSome(EVENTS);

      const { partitions, heads } = await readWholeLog(log);
      await until(
        async () => {
          const positions = await store.positions(view.table);
          return Object.entries(heads).every(([partition, head]) => positions[partition] === head);
        },
        'the view to reach the end of every partition',
        180_000,
        failed,
      );
      for (const builder of [ahead, normal]) {
        await builder.terminate();
        ended.set(builder.owner, Date.now());
      }

      const expected = pureFold('ledger', [...partitions.values()]);
      const actual = await readWholeTable(store, view.table);
      const wrong = differences(actual, expected);
      expect(wrong.slice(0, 20), `${wrong.length} rows differ from the pure fold`).toEqual([]);

      const report = audit.check(journal);
      expect(report.violations.slice(0, 20)).toEqual([]);

      const overlaps = ownershipOverlaps(journal, ended);
      const longest = overlaps.reduce((max, overlap) => Math.max(max, overlap.ms), 0);
      console.info(
        `clock: ${EVENTS} events, ${overlaps.length} overlaps of ownership, longest ${longest} ms (renewal interval ${RENEW_MS} ms), ` +
          `${JSON.stringify(report.summary)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(overlaps.filter((overlap) => overlap.ms > RENEW_MS)).toEqual([]);
      // Ownership was reported from both sides and changed hands.
      expect(new Set(journal.filter((fact) => fact.word === 'own').map((fact) => fact.owner)).size).toBeGreaterThanOrEqual(4);

      audit.close();
      await Promise.all([log.close(), store.close(), leases.close()]);
    },
    5 * 60_000,
  );
});
