// The chaos both multi-process scale tests run (SQLite in test/scale/lost-updates.test.ts, DynamoDB in
// test/dynamodb/scale.test.ts): while the events arrive in chunks, one random builder is SIGKILLed every
// 0.5–2 s and restarted, and another is SIGSTOPped until every partition it held was taken over under a
// newer epoch, then SIGCONTed. Then the rest of the events is appended, the view is awaited at the end
// of every partition, and compared with a pure fold row by row.
import type { Envelope, EventLog, ViewStore } from '@riverlog/core';
import { until } from '@riverlog/testing';
import { expect } from 'vitest';
import { pureFold } from '../fixtures/scale-model.mjs';
import {
  Builder,
  type BuilderConfig,
  between,
  differences,
  type Fact,
  firstUnexpectedExit,
  pause,
  readWholeLog,
  readWholeTable,
} from './support.js';

/** A partition's lease as the chaos reads it from the lease store. */
export interface LeaseSeen {
  readonly partition: string;
  readonly epoch: number;
  readonly owner?: string | undefined;
}

export interface ChaosOptions {
  /** The three builders' slots: a killed builder is replaced in place. */
  readonly slots: Builder[];
  readonly config: (slot: number) => BuilderConfig;
  readonly journal: Fact[];
  readonly log: EventLog;
  readonly events: readonly Envelope[];
  /** How many of `events` were appended before the builders started. */
  readonly appended: number;
  /** Events appended before each kill, while the chaos lasts. */
  readonly chunk: number;
  readonly kills: number;
  /** Pauses that must end with every partition of the paused builder taken over. */
  readonly stops: number;
  /** The view group's leases now. */
  readonly leases: () => Promise<readonly LeaseSeen[]>;
  readonly takeoverTimeoutMs: number;
  /** What the leases and builders say now, for a failure message. */
  readonly situation: () => Promise<string>;
  /** Runs before the pause numbered `stop` (counting every pause so far). */
  readonly beforePause?: (stop: number, failed: () => Error | undefined) => Promise<void>;
  /**
   * A fresh probe for each pause, asked while its takeover is awaited: the reason once the pause can
   * never end in a takeover (the paused process holds a write lock), else undefined. Such a pause ends
   * and is counted apart (at most `stops` of them).
   */
  readonly stuckProbe?: () => (pausedAt: number) => string | undefined;
}

export interface ChaosReport {
  readonly kills: number;
  /** Every pause, taken over or stuck. */
  readonly stops: number;
  readonly takenOver: number;
  /** Why each stuck pause was ended. */
  readonly stuck: readonly string[];
  /** How long each pause lasted, ms. */
  readonly stopTimes: readonly number[];
  /** When the chaos ended and every event had been appended (Date.now()). */
  readonly ended: number;
}

/** Runs the kills and pauses together while appending `events`, then appends what is left. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { slots, config, journal, log, events } = options;
  const failed = () => firstUnexpectedExit([...Builder.all]);
  let appended = options.appended;
  const busy = new Set<number>();
  let kills = 0;
  let stops = 0;
  let takenOver = 0;
  const stuck: string[] = [];
  const stopTimes: number[] = [];
  const pick = (candidates: number[]) => candidates[Math.floor(Math.random() * candidates.length)] as number;

  const killing = async () => {
    while (kills < options.kills) {
      await pause(between(500, 2000));
      const error = failed();
      if (error) throw error;
      if (appended < events.length) {
        await log.append(events.slice(appended, appended + options.chunk));
        appended += options.chunk;
      }
      const slot = pick([0, 1, 2].filter((s) => !busy.has(s)));
      busy.add(slot);
      try {
        await (slots[slot] as Builder).kill();
        kills++;
        slots[slot] = new Builder(config(slot), journal);
      } finally {
        busy.delete(slot);
      }
    }
  };

  const stopping = async () => {
    while (takenOver < options.stops) {
      if (stuck.length > options.stops) throw new Error(`${stuck.length} pauses could not be taken over; ${await options.situation()}`);
      await pause(between(300, 1500));
      const error = failed();
      if (error) throw error;
      const held = new Map<string, LeaseSeen[]>();
      for (const lease of await options.leases()) {
        if (lease.owner !== undefined) held.set(lease.owner, [...(held.get(lease.owner) ?? []), lease]);
      }
      const candidates = [0, 1, 2].filter((s) => !busy.has(s) && held.has((slots[s] as Builder).owner));
      if (candidates.length === 0) continue;
      const slot = pick(candidates);
      busy.add(slot);
      const victim = slots[slot] as Builder;
      const its = held.get(victim.owner) ?? [];
      try {
        await options.beforePause?.(stops, failed);
        victim.pause();
        const pausedAt = Date.now();
        const probe = options.stuckProbe?.();
        let outcome: { taken: true } | { stuck: string } | undefined;
        await until(
          async () => {
            const now = await options.leases();
            const taken = its.every(({ partition, epoch }) => {
              const lease = now.find((l) => l.partition === partition);
              return lease !== undefined && lease.epoch > epoch && lease.owner !== undefined && lease.owner !== victim.owner;
            });
            const reason = taken ? undefined : probe?.(pausedAt);
            if (taken) outcome = { taken: true };
            else if (reason !== undefined) outcome = { stuck: reason };
            return outcome !== undefined;
          },
          `partitions ${its.map((lease) => lease.partition).join(', ')} of paused ${victim.owner} to be taken over`,
          options.takeoverTimeoutMs,
          failed,
        ).catch(async (error) => {
          throw new Error(`${(error as Error).message}; kills so far ${kills}; ${await options.situation()}`);
        });
        if (outcome && 'stuck' in outcome) stuck.push(outcome.stuck);
        else takenOver++;
        const resumedAt = Date.now();
        victim.resume();
        stops++;
        stopTimes.push(resumedAt - pausedAt);
        // It runs again (and may try to write under its old epochs) before the next pause.
        await until(
          () => victim.facts.some((fact) => fact.word === 'resumed' && fact.data.t >= resumedAt) || !victim.alive,
          `paused ${victim.owner} to run again`,
          30_000,
          failed,
        );
      } finally {
        if (victim.paused) victim.resume();
        busy.delete(slot);
      }
    }
  };

  await Promise.all([killing(), stopping()]);
  for (; appended < events.length; appended += 10_000) await log.append(events.slice(appended, appended + 10_000));
  return { kills, stops, takenOver, stuck, stopTimes, ended: Date.now() };
}

/**
 * Reads the whole log (expecting `total` events), waits until the view's positions are every
 * partition's head, stops the builders and compares the view with a pure fold, row by row.
 * Returns when the view caught up (Date.now()) and the fold's row count.
 */
export async function expectPureFold(options: {
  readonly log: EventLog;
  readonly store: ViewStore;
  readonly table: string;
  readonly slots: readonly Builder[];
  readonly total: number;
  readonly catchUpTimeoutMs: number;
  readonly situation: () => Promise<string>;
}): Promise<{ caughtUp: number; rows: number }> {
  const { log, store, table } = options;
  const failed = () => firstUnexpectedExit([...Builder.all]);
  const { partitions, heads } = await readWholeLog(log);
  expect(Object.keys(heads).sort()).toEqual(['0', '1', '2', '3']);
  expect([...partitions.values()].reduce((sum, records) => sum + records.length, 0)).toBe(options.total);
  await until(
    async () => {
      const positions = await store.positions(table);
      return Object.entries(heads).every(([partition, head]) => positions[partition] === head);
    },
    'the view to reach the end of every partition',
    options.catchUpTimeoutMs,
    failed,
  ).catch(async (error) => {
    throw new Error(
      `${(error as Error).message}: positions ${JSON.stringify(await store.positions(table))}, heads ${JSON.stringify(heads)}; ${await options.situation()}`,
    );
  });
  const caughtUp = Date.now();
  await Promise.all(options.slots.map((builder) => builder.terminate()));

  const expected = pureFold('ledger', [...partitions.values()]);
  const actual = await readWholeTable(store, table);
  const wrong = differences(actual, expected);
  expect(wrong.slice(0, 20), `${wrong.length} rows differ from the pure fold`).toEqual([]);
  expect(actual.size).toBe(expected.size);
  return { caughtUp, rows: expected.size };
}
