// Issue 8, "Done when": duplicates. 5% of the events are in the log a second
// time at a new position with the same id, as a producer's retry after an
// ambiguous failure leaves them (Kinesis keeps both; a Kafka producer past its
// window too). Four in five land later in their own partition, one in five in
// another partition (a retry after a reshard). Every view, a counting view
// (one row fed by every partition) and a per-subject view, must equal the fold
// of the distinct events.
//
// How the same id gets a new position: the SQLite log refuses a known id for
// the life of its file (log.append returns the first position), so the test
// writes each duplicate as a raw row into the partition's table with its own
// connection, at the partition's next offset, past the log's id index, exactly
// as a log without dedupe would have stored it. Two builder processes share
// the views through leases and follow the log while it grows; one of them is
// killed and restarted twice (the id window lives in the store, not in a process).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope } from '@riverlog/core';
import { sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { countingView, makeEvents, pureFold, random, subjectView } from '../fixtures/scale-model.mjs';
import { Builder, type BuilderConfig, differences, type Fact, firstUnexpectedExit, readWholeLog, readWholeTable } from './support.js';

const EVENTS = 100_000;
const ROUND = 2500;
/** A duplicate lands up to this many events after its original. */
const MAX_DELAY = 3000;
/** The views' id window: more than the events, so every duplicate is within it. */
const ID_WINDOW = 200_000;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-scale-dup-'));
});

afterEach(async () => {
  await Builder.reapAll();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes an envelope again at the next offset of a partition, past the log's id index (what a log without dedupe does). */
function rawAppender(path: string): { append(partition: string, event: Envelope): void; close(): void } {
  const db = new Database(path, { timeout: 10_000 });
  const statements = new Map<string, Database.Statement>();
  return {
    append(partition, event) {
      let insert = statements.get(partition);
      if (!insert) {
        const table = `riverlog_events_${Number(partition)}`;
        insert = db.prepare(
          `INSERT INTO ${table} ("offset", type_code, envelope)
           SELECT coalesce(max("offset"), -1) + 1, (SELECT code FROM riverlog_event_types WHERE type = ?), ? FROM ${table}`,
        );
        statements.set(partition, insert);
      }
      insert.run(event.type, JSON.stringify(event));
    },
    close: () => db.close(),
  };
}

describe('duplicate records (same id at a new position)', () => {
  test(
    '5% of the events twice: the counting and per-subject views equal the fold of distinct events',
    async () => {
      const started = Date.now();
      const paths = { log: join(dir, 'log.db'), store: join(dir, 'views.db') };
      const events = makeEvents(EVENTS, { seed: 5, prefix: 'd' });
      const next = random(55);
      /** index of the original -> index after which its duplicate is written, and whether in another partition. */
      const due = new Map<number, { original: number; foreign: boolean }[]>();
      for (let i = 0; i < EVENTS; i++) {
        if (next() >= 0.05) continue;
        const after = Math.min(EVENTS - 1, i + 1 + Math.floor(next() * MAX_DELAY));
        const list = due.get(after) ?? [];
        list.push({ original: i, foreign: next() < 0.2 });
        due.set(after, list);
      }

      const log = sqliteLog({ path: paths.log, partitions: 4 });
      const raw = rawAppender(paths.log);
      const store = sqliteViewStore({ path: paths.store });
      const journal: Fact[] = [];
      let generation = 0;
      const config = (slot: number): BuilderConfig => ({
        log: paths.log,
        store: paths.store,
        leases: paths.store,
        owner: `d${slot}-${generation++}`,
        views: ['counting', 'subject'],
        ttlMs: 2000,
        batchSize: 500,
        commitSize: 2000,
        idWindow: ID_WINDOW,
      });
      const slots = [new Builder(config(0), journal), new Builder(config(1), journal)];
      const failed = () => firstUnexpectedExit([...Builder.all]);
      await Promise.all(slots.map((builder) => builder.ready()));

      const partitionOf = new Map<number, string>();
      let duplicates = 0;
      let foreign = 0;
      for (let start = 0, round = 0; start < EVENTS; start += ROUND, round++) {
        const end = Math.min(EVENTS, start + ROUND);
        const positions = await log.append(events.slice(start, end));
        for (const [i, position] of positions.entries()) partitionOf.set(start + i, position.partition);
        for (let i = start; i < end; i++) {
          for (const { original, foreign: elsewhere } of due.get(i) ?? []) {
            const home = partitionOf.get(original) as string;
            const partition = elsewhere ? String((Number(home) + 1 + Math.floor(next() * 3)) % 4) : home;
            raw.append(partition, events[original] as Envelope);
            duplicates++;
            if (elsewhere) foreign++;
          }
        }
        const error = failed();
        if (error) throw error;
        if (round === 12 || round === 28) {
          const slot = round === 12 ? 0 : 1;
          await (slots[slot] as Builder).kill();
          slots[slot] = new Builder(config(slot), journal);
        }
      }
      raw.close();

      const { partitions, heads } = await readWholeLog(log);
      const records = [...partitions.values()].flat();
      expect(records.length).toBe(EVENTS + duplicates);
      expect(new Set(records.map((record) => (record.event as Envelope).id)).size).toBe(EVENTS);
      expect(duplicates).toBeGreaterThan(EVENTS * 0.045);

      const byView = [
        { kind: 'counting' as const, table: countingView().table },
        { kind: 'subject' as const, table: subjectView().table },
      ];
      await until(
        async () => {
          for (const { table } of byView) {
            const positions = await store.positions(table);
            if (!Object.entries(heads).every(([partition, head]) => positions[partition] === head)) return false;
          }
          return true;
        },
        'both views to reach the end of every partition',
        240_000,
        failed,
      );
      await Promise.all(slots.map((builder) => builder.terminate()));

      const ordered = [...partitions.values()];
      for (const { kind, table } of byView) {
        const expected = pureFold(kind, ordered, { distinct: true });
        const actual = await readWholeTable(store, table);
        const wrong = differences(actual, expected);
        expect(wrong.slice(0, 20), `${kind}: ${wrong.length} rows differ from the fold of distinct events`).toEqual([]);
        // The duplicates are in the log for the views to see: folding every record would differ.
        expect(differences(actual, pureFold(kind, ordered)).length).toBeGreaterThan(0);
      }
      const refused: Record<string, number> = {};
      for (const fact of journal) if (fact.word === 'refused') refused[fact.data.code] = (refused[fact.data.code] ?? 0) + 1;
      console.info(
        `duplicates: ${EVENTS} events, ${duplicates} duplicates (${foreign} in another partition), ` +
          `${journal.filter((fact) => fact.word === 'accepted').length} commits accepted, refused ${JSON.stringify(refused)}, ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      await Promise.all([log.close(), store.close()]);
    },
    5 * 60_000,
  );
});
