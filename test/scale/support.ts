// Shared parts of the scale tests: builder processes (started, signalled and
// reaped by PID, never by name), reading a whole log per partition, reading a
// whole view table, and comparing it with a pure fold row by row.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EventLog, LogRecord, ViewStore } from '@riverlog/core';
import { until } from '@riverlog/testing';
import Database from 'better-sqlite3';

const BUILDER = fileURLToPath(new URL('../fixtures/scale-builder.mjs', import.meta.url));

/** What scale-builder.mjs takes (see its header). */
export interface BuilderConfig {
  readonly log: string;
  readonly store: string;
  readonly leases: string;
  readonly owner: string;
  readonly views: readonly ('ledger' | 'counting' | 'subject')[];
  readonly ttlMs: number;
  readonly skewMs?: number;
  readonly skewAfterMs?: number;
  /** The lease clock stands still while the process is stopped (see scale-builder.mjs). */
  readonly stallingClock?: boolean;
  readonly batchSize?: number;
  readonly commitSize?: number;
  readonly sampleMs?: number;
  readonly idWindow?: number;
  /** Views and leases in DynamoDB at `endpoint` (view tables named from `prefix`, leases in `table`) instead of `store` and `leases`. */
  readonly dynamodb?: { readonly endpoint: string; readonly prefix: string; readonly table: string };
}

/** One `<word> <json>` line a builder printed, with the order it arrived in among all builders. */
export interface Fact {
  readonly word: string;
  readonly owner: string;
  // biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON facts, checked where they are used
  readonly data: any;
}

/** A builder process. Every one started is in `Builder.all` until reaped. */
export class Builder {
  static readonly all = new Set<Builder>();
  readonly child: ChildProcess;
  readonly pid: number;
  readonly facts: Fact[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** True while we hold it stopped with SIGSTOP. */
  paused = false;
  /** Killed or terminated by the test on purpose: its exit is expected. */
  ending = false;
  private partial = '';
  private errors = '';

  constructor(
    readonly config: BuilderConfig,
    /** Every fact of every builder, in arrival order. */
    journal: Fact[],
  ) {
    this.child = spawn(process.execPath, [BUILDER], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SCALE_BUILDER: JSON.stringify(config) },
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${BUILDER}`);
    this.pid = this.child.pid;
    Builder.all.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        const word = space < 0 ? line : line.slice(0, space);
        const fact = { word, owner: config.owner, data: space < 0 ? undefined : JSON.parse(line.slice(space + 1)) };
        this.facts.push(fact);
        journal.push(fact);
      }
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.errors += chunk;
    });
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        Builder.all.delete(this);
        resolve({ code, signal });
      }),
    );
  }

  get owner(): string {
    return this.config.owner;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  stderr(): string {
    return this.errors;
  }

  /** An exit the test did not cause, as an error to fail with. */
  unexpectedExit(): Error | undefined {
    if (this.exit === undefined || this.ending) return undefined;
    return new Error(`builder ${this.owner} (pid ${this.pid}) exited by itself (${JSON.stringify(this.exit)}): ${this.errors}`);
  }

  /** Sends a signal to this process (by PID). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit !== undefined) return;
    process.kill(this.pid, signal);
  }

  async kill(): Promise<void> {
    this.ending = true;
    this.signal('SIGKILL');
    this.paused = false;
    await this.exited;
  }

  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /** SIGTERM: the builder stops its runner (leases released) and exits 0. */
  async terminate(timeoutMs = 30_000): Promise<void> {
    this.ending = true;
    if (this.paused) this.resume();
    this.signal('SIGTERM');
    await until(() => this.exit !== undefined, `builder ${this.owner} to stop after SIGTERM`, timeoutMs);
    if (this.exit?.code !== 0) throw new Error(`builder ${this.owner} stopped with ${JSON.stringify(this.exit)}: ${this.errors}`);
  }

  /** Resolves once the builder printed `ready`. */
  ready(timeoutMs = 30_000): Promise<void> {
    return until(
      () => this.facts.some((fact) => fact.word === 'ready'),
      `builder ${this.owner} to start`,
      timeoutMs,
      () => this.unexpectedExit(),
    );
  }

  /** Kills every builder still running (by PID), stopped ones included: clean-up after a failure. */
  static async reapAll(): Promise<void> {
    await Promise.all([...Builder.all].map((builder) => builder.kill()));
  }
}

/** The first unexpected exit among `builders`, for `until`'s failure check. */
export function firstUnexpectedExit(builders: Iterable<Builder>): Error | undefined {
  for (const builder of builders) {
    const error = builder.unexpectedExit();
    if (error) return error;
  }
  return undefined;
}

/** Every record of a log, per partition in offset order, and each partition's last offset. */
export async function readWholeLog(log: EventLog): Promise<{ partitions: Map<string, LogRecord[]>; heads: Record<string, string> }> {
  const partitions = new Map<string, LogRecord[]>();
  for (const info of await log.partitions()) partitions.set(info.id, []);
  for await (const batch of log.read({ from: 'earliest', batchSize: 5000 })) {
    const records = partitions.get(batch.partition) ?? [];
    partitions.set(batch.partition, records);
    for (const record of batch.records) records.push(record);
  }
  const heads: Record<string, string> = {};
  for (const [partition, records] of partitions) {
    const last = records.at(-1);
    if (last) heads[partition] = last.position.offset;
  }
  return { partitions, heads };
}

/** Every live row of a view table (tombstones left out), paging through `list`. */
export async function readWholeTable(store: ViewStore, table: string): Promise<Map<string, unknown>> {
  const rows = new Map<string, unknown>();
  let cursor: string | undefined;
  do {
    const page = await store.list(table, { limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const row of page.rows) {
      if (rows.has(row.key)) throw new Error(`list returned row ${row.key} twice`);
      rows.set(row.key, row.value);
    }
    cursor = page.cursor;
  } while (cursor);
  return rows;
}

/** Row-by-row differences between a table and a pure fold: missing, extra and different rows. */
export function differences(actual: ReadonlyMap<string, unknown>, expected: ReadonlyMap<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, row] of expected) {
    if (!actual.has(key)) out.push(`${key}: missing, expected ${JSON.stringify(row)}`);
    else if (JSON.stringify(actual.get(key)) !== JSON.stringify(row)) {
      out.push(`${key}: ${JSON.stringify(actual.get(key))}, expected ${JSON.stringify(row)}`);
    }
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`${key}: extra row ${JSON.stringify(actual.get(key))}`);
  return out;
}

/** A whole number of milliseconds in [low, high). */
export function between(low: number, high: number): number {
  return low + Math.floor(Math.random() * (high - low));
}

/** The schedule's wait (chaos timing, not synchronisation). */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when some connection holds the write lock of the SQLite file at `path` right now (a try without waiting). */
export function writeLocked(path: string): boolean {
  const db = new Database(path, { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return false;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}
