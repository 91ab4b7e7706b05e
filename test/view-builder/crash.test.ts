// A view builder process is killed (SIGKILL) at random moments while folding
// 100,000 events from the SQLite log into the SQLite view store, and started
// again each time: the final view must equal a pure fold of the events, row by
// row. The view counts and sums, so an event applied twice (or lost) shows.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareOffsets, type Envelope, type PositionMap } from '@riverlog/core';
import { sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeEvents, pureFold, type TallyRow, tallyView } from '../fixtures/view-builder-tally.mjs';

const CHILD = fileURLToPath(new URL('../fixtures/view-builder-child.mjs', import.meta.url));
const EVENTS = 100_000;

let dir: string;
let logPath: string;
let events: Envelope[];
let heads: PositionMap;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-view-crash-'));
  logPath = join(dir, 'log.db');
  events = makeEvents(EVENTS);
  const log = sqliteLog({ path: logPath, partitions: 4 });
  const last: Record<string, string> = {};
  for (let i = 0; i < events.length; i += 10_000) {
    for (const { partition, offset } of await log.append(events.slice(i, i + 10_000))) {
      const at = last[partition];
      if (at === undefined || compareOffsets(offset, at) > 0) last[partition] = offset;
    }
  }
  heads = last;
  await log.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A builder process and the checkpoint its commits reported. */
class Builder {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  caughtUp = false;
  /** The partitions this builder committed. */
  readonly committed = new Set<string>();
  private output = '';
  private errors = '';

  constructor(
    storePath: string,
    mode: 'total' | 'subject',
    progress: Record<string, number>,
    readonly owner?: string,
    ttlMs?: number,
  ) {
    const args = [CHILD, logPath, storePath, mode, ...(owner ? [owner, String(ttlMs)] : [])];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      const lines = this.output.split('\n');
      this.output = lines.pop() ?? '';
      for (const line of lines) {
        const [word, partition, to] = line.split(' ');
        if (word === 'commit' && partition !== undefined) {
          progress[partition] = Math.max(progress[partition] ?? -1, Number(to));
          this.committed.add(partition);
        }
        if (word === 'caught-up') this.caughtUp = true;
      }
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.errors += chunk;
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async finish(): Promise<void> {
    const code = await this.exited;
    if (code !== 0 || !this.caughtUp) throw new Error(`builder exited with ${code}: ${this.errors}`);
  }
}

function folded(progress: Record<string, number>): number {
  return Object.values(progress).reduce((sum, offset) => sum + offset + 1, 0);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kill points spread over the run: one random point in each of `count` equal slices of the events. */
function killPoints(count: number): number[] {
  const slice = EVENTS / (count + 1);
  return Array.from({ length: count }, (_, i) => Math.floor((i + Math.random()) * slice));
}

async function expectPureFold(storePath: string, total: boolean): Promise<void> {
  const expected = pureFold(events, { total });
  const store = sqliteViewStore({ path: storePath });
  try {
    const table = tallyView({ total }).table;
    expect(await store.positions(table)).toEqual(heads);
    const stored = await store.rows(table, [...expected.keys()]);
    const actual = new Map([...stored].map(([key, row]) => [key, row.value as TallyRow]));
    const mismatches = [...expected].filter(([key, row]) => JSON.stringify(actual.get(key)) !== JSON.stringify(row));
    expect(mismatches.slice(0, 5).map(([key, row]) => ({ key, expected: row, actual: actual.get(key) }))).toEqual([]);
    expect(actual.size).toBe(expected.size);
  } finally {
    await store.close();
  }
}

describe('view builder crashes (SQLite log and view store)', () => {
  test('killed at 30 random moments and restarted: the view equals a pure fold, row by row', async () => {
    const storePath = join(dir, 'single.db');
    const progress: Record<string, number> = {};
    let kills = 0;
    for (const point of killPoints(30)) {
      const builder = new Builder(storePath, 'total', progress);
      const target = Math.max(point, folded(progress) + 1);
      await Promise.race([until(() => folded(progress) >= target, `${target} events folded`, 60_000), builder.exited]);
      await pause(Math.random() * 8); // land anywhere in the next batch: folding, committing, between
      if (builder.child.exitCode === null) {
        await builder.kill();
        kills++;
      }
    }
    const last = new Builder(storePath, 'total', progress);
    await last.finish();
    expect(kills).toBeGreaterThanOrEqual(25);
    await expectPureFold(storePath, true);
  });

  test('two builders share the partitions with leases; one of them is killed again and again', async () => {
    const storePath = join(dir, 'leased.db');
    const progress: Record<string, number> = {};
    const ttlMs = 400;
    let generation = 0;
    const start = (name: string) => new Builder(storePath, 'subject', progress, `${name}-${generation++}`, ttlMs);
    const builders = [start('a'), start('b')];
    const all = [...builders];
    let kills = 0;
    for (const point of killPoints(12)) {
      await until(() => folded(progress) >= point || builders.some((b) => b.child.exitCode !== null), `${point} events folded`, 60_000);
      if (builders.some((b) => b.child.exitCode !== null)) break;
      await pause(Math.random() * 8);
      // Each in turn, so both hold partitions when killed: every kill moves partitions.
      const victim = kills % 2;
      await (builders[victim] as Builder).kill();
      kills++;
      builders[victim] = start(victim === 0 ? 'a' : 'b');
      all.push(builders[victim] as Builder);
    }
    await Promise.all(builders.map((b) => b.finish()));
    expect(kills).toBeGreaterThanOrEqual(8);
    // Partitions changed hands: each was built by more than one process over the run.
    for (const partition of Object.keys(heads)) {
      expect(all.filter((b) => b.committed.has(partition)).length).toBeGreaterThanOrEqual(2);
    }
    await expectPureFold(storePath, false);
  });
});
