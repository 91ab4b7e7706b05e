import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvent, defineCatalog, defineEvent, LogFormatError, PartitionCountError, RiverlogError, t } from '@riverlog/core';
import { sqliteLog } from '@riverlog/sqlite';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const catalog = defineCatalog([defineEvent('test/noted', { data: { n: t.number, text: t.string } })]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-bad-input-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A closed riverlog log with some events in it. */
async function makeLog(name: string, partitions = 4): Promise<string> {
  const path = join(dir, name);
  const log = sqliteLog({ path, partitions });
  for (let i = 0; i < 10; i++) {
    await log.append(
      Array.from({ length: 40 }, (_, j) => createEvent(catalog, 'test/noted', `s${j}`, { n: i, text: 'x'.repeat(90) }, { source: 'test' })),
    );
  }
  await log.close();
  return path;
}

interface Snapshot {
  readonly sha256: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly files: string[];
}

function snapshot(path: string): Snapshot {
  const { size, mtimeMs } = statSync(path);
  return { sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), size, mtimeMs, files: readdirSync(dir).sort() };
}

/** Opens `path`, expecting one error; returns it after checking that nothing about the file changed. */
function refusal(path: string, options: { partitions?: number } = {}): RiverlogError {
  const before = snapshot(path);
  let caught: unknown;
  try {
    sqliteLog({ path, ...options });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RiverlogError);
  expect((caught as Error).message).toContain(path);
  expect(snapshot(path), 'the file is unchanged and nothing was left beside it').toEqual(before);
  return caught as RiverlogError;
}

describe('sqliteLog given a file it cannot use', () => {
  it('refuses a file that is not SQLite at all', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'Shopping list\n- boots\n- socks\n'.repeat(300));
    const error = refusal(path);
    expect(error).toBeInstanceOf(LogFormatError);
    expect(error.code).toBe('LOG_FORMAT');
    expect(error.message).toBe(
      `${path} is not a usable riverlog log: it is not an SQLite database (SQLITE_NOTADB: file is not a database). Nothing was changed.`,
    );
  });

  it("refuses another application's SQLite database, naming its tables", () => {
    const path = join(dir, 'shop.db');
    const db = new Database(path);
    db.exec(
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO users VALUES (1, 'Ann')",
    );
    db.close();
    const error = refusal(path);
    expect(error.code).toBe('LOG_FORMAT');
    expect(error.message).toBe(
      `${path} is not a usable riverlog log: it is an SQLite database of another application (tables orders, users) with no riverlog log in it; give the log a file of its own. Nothing was changed.`,
    );
  });

  it("refuses another application's database in WAL mode too", () => {
    const path = join(dir, 'wal-shop.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE carts (id INTEGER PRIMARY KEY)');
    db.close();
    expect(refusal(path).message).toContain('another application (tables carts)');
  });

  it('refuses a corrupt log: a scrambled schema page, a truncated file', async () => {
    const scrambled = await makeLog('scrambled.db');
    const bytes = readFileSync(scrambled);
    for (let i = 100; i < 4096; i++) bytes[i] = (i * 7) & 255;
    writeFileSync(scrambled, bytes);
    const error = refusal(scrambled);
    expect(error.code).toBe('LOG_FORMAT');
    expect(error.message).toBe(
      `${scrambled} is not a usable riverlog log: it is corrupt (SQLITE_CORRUPT: database disk image is malformed); restore it from a backup. Nothing was changed.`,
    );

    const truncated = await makeLog('truncated.db');
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 3 * 4096));
    expect(refusal(truncated).message).toContain('it is corrupt (SQLITE_CORRUPT');
  });

  it('reports corruption deep inside a log, which an open does not read, on the read that meets it', async () => {
    const path = await makeLog('deep.db', 1);
    const bytes = readFileSync(path);
    const page = Math.floor(bytes.length / 4096 / 3);
    for (let i = page * 4096; i < (page + 1) * 4096; i++) bytes[i] = (i * 13) & 255;
    writeFileSync(path, bytes);
    const log = sqliteLog({ path });
    const error = await (async () => {
      for await (const _ of log.read()) {
        // read on until the damaged page
      }
    })().catch((e: unknown) => e);
    await log.close();
    expect(error).toBeInstanceOf(LogFormatError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${path} is not a usable riverlog log: it is corrupt .*\\(reading partition 0 from offset \\d+\\)`),
    );
  });

  it('refuses a partition count other than the stored one, and opens with the stored one', async () => {
    const path = await makeLog('four.db', 4);
    const error = refusal(path, { partitions: 8 });
    expect(error).toBeInstanceOf(PartitionCountError);
    expect(error).toMatchObject({ code: 'PARTITION_COUNT_MISMATCH', stored: 4, requested: 8, location: path });
    expect(error.message).toBe(
      `${path} was created with 4 partitions but was opened with partitions: 8. Open it with 4 (or omit the option); nothing was changed.`,
    );
    const log = sqliteLog({ path });
    expect(log.partitionCount).toBe(4);
    expect(await log.partitions()).toHaveLength(4);
    await log.close();
  });

  it('refuses a log written by a newer format version, or by the pre-release layout', async () => {
    const path = await makeLog('future.db');
    const db = new Database(path);
    db.prepare("UPDATE riverlog_log_meta SET value = '3' WHERE key = 'version'").run();
    db.close();
    const error = refusal(path);
    expect(error.code).toBe('LOG_FORMAT');
    expect(error.message).toContain(
      'it was written in format version 3, and this @riverlog/sqlite reads version 2; upgrade @riverlog/sqlite',
    );
    const old = await makeLog('old.db');
    const oldDb = new Database(old);
    oldDb.prepare("UPDATE riverlog_log_meta SET value = '1' WHERE key = 'version'").run();
    oldDb.close();
    expect(refusal(old).message).toContain('it was written in format version 1 by a pre-release @riverlog/sqlite');
  });

  it('creates a missing file, but refuses one in a missing directory with LOG_OPEN_FAILED (not LOG_FORMAT) without creating anything', async () => {
    const fresh = join(dir, 'fresh.db');
    const log = sqliteLog({ path: fresh, partitions: 3 });
    expect(existsSync(fresh)).toBe(true);
    expect((await log.partitions()).map((p) => p.id)).toEqual(['0', '1', '2']);
    await log.close();

    const nowhere = join(dir, 'missing', 'log.db');
    let caught: unknown;
    try {
      sqliteLog({ path: nowhere });
    } catch (error) {
      caught = error;
    }
    expect(caught).not.toBeInstanceOf(LogFormatError);
    expect(caught).toMatchObject({ code: 'LOG_OPEN_FAILED' });
    expect((caught as Error).message).toBe(
      `Cannot open the log ${nowhere} (Cannot open database because the directory does not exist): check that its directory exists and that this process may create and write files in it (SQLite writes the -wal and -shm files beside it). Nothing was changed.`,
    );
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
});
