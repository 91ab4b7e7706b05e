// Child consumer processes (test/fixtures/kafka-view-consumer.mjs) and the
// SQLite view they build together, for the multi-process Kafka tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const fixture = fileURLToPath(new URL('../fixtures/kafka-view-consumer.mjs', import.meta.url));

export interface ViewProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every JSON line it printed so far. */
  readonly lines: { event: string; [key: string]: unknown }[];
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** How many events it applied, as it last reported. */
  handled(): number;
}

export function spawnViewProcess(brokers: readonly string[], topic: string, group: string, dbPath: string, name: string): ViewProcess {
  const child = spawn(process.execPath, [fixture, brokers.join(','), topic, group, dbPath, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: ViewProcess['lines'] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) lines.push(JSON.parse(line));
      newline = buffered.indexOf('\n');
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = `${stderr}${chunk.toString('utf8')}`.slice(-4000);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== null) console.error(`${name} exited with ${code}: ${stderr}`);
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    name,
    child,
    lines,
    exited,
    handled() {
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i] as ViewProcess['lines'][number];
        if (line.event === 'progress' || line.event === 'stopped') return Number(line.handled);
      }
      return 0;
    },
  };
}

export interface ViewRow {
  readonly id: string;
  readonly partition: string;
  readonly offset: string;
  readonly applied: number;
}

/** The view's rows by event id, read while the consumers may still write. */
export function readView(dbPath: string): Map<string, ViewRow> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 20000');
    const rows = db.prepare('SELECT id, partition, offset, applied FROM seen').all() as ViewRow[];
    return new Map(rows.map((row) => [row.id, row]));
  } catch (error) {
    if (/no such table/.test(String(error))) return new Map();
    throw error;
  } finally {
    db.close();
  }
}

export function viewCheckpoint(dbPath: string): Record<string, string> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT partition, offset FROM view_checkpoint').all() as { partition: string; offset: string }[];
    return Object.fromEntries(rows.map((row) => [row.partition, row.offset]));
  } finally {
    db.close();
  }
}

/** SIGTERM, then waits for a clean exit. */
export async function stopViewProcess(process: ViewProcess): Promise<number | string> {
  if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGTERM');
  return process.exited;
}
