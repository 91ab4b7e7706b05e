import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  ClosedError,
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  EventTooLargeError,
  envelopeBytes,
  type LogRecord,
  memoryLog,
  PARTITION_END,
  type Position,
  type ReadBatch,
  type ReadOptions,
  RiverlogError,
  readEnds,
  t,
} from '@riverlog/core';
import { until } from '@riverlog/testing';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SqliteLog, sqliteLog } from './sqlite-log.js';

const catalog = defineCatalog([
  defineEvent('test/created', { data: { seq: t.number } }),
  defineEvent('test/renamed', { data: { seq: t.number, name: t.string } }),
]);
const source = 'sqlite/test';
const created = (subject: string, seq: number) => createEvent(catalog, 'test/created', subject, { seq }, { source });
const renamed = (subject: string, seq: number) => createEvent(catalog, 'test/renamed', subject, { seq, name: `n${seq}` }, { source });
const key = (p: Position) => `${p.partition}/${p.offset}`;

async function readAll(log: EventLog, options: ReadOptions = {}): Promise<LogRecord[][]> {
  const batches: LogRecord[][] = [];
  for await (const batch of log.read(options)) if (batch.records.length > 0) batches.push([...batch.records]);
  return batches;
}

/**
 * Opens each path with sqliteLog in a child process that may read `dir` but not write to it (run as
 * `nobody` when the tests run as root, whom permission bits do not stop), and returns its error's code and message.
 */
async function openAsAnotherUser(dir: string, paths: readonly string[]): Promise<[string, { code: string; message: string }][]> {
  const root = process.getuid?.() === 0;
  chmodSync(dir, root ? 0o755 : 0o555);
  const entryPath = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  const entry = pathToFileURL(entryPath).href;
  // `nobody` must reach the built package: a checkout under a private folder (mktemp -d makes 0700 ones) is
  // opened for traversal (o+x) for the length of the check and closed again after.
  const opened: [string, number][] = [];
  if (root) {
    for (let folder = dirname(entryPath); folder !== dirname(folder); folder = dirname(folder)) {
      const mode = statSync(folder).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        chmodSync(folder, mode | 0o001);
        opened.push([folder, mode]);
      }
    }
  }
  const script = `
    const { sqliteLog } = await import(${JSON.stringify(entry)});
    const results = [];
    for (const path of ${JSON.stringify(paths)}) {
      try { await sqliteLog({ path }).close(); results.push([path, { code: 'OPENED', message: '' }]); }
      catch (error) { results.push([path, { code: error.code, message: error.message }]); }
    }
    console.log(JSON.stringify(results));`;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      ...(root ? { uid: 65534, gid: 65534 } : {}),
    });
    return JSON.parse(stdout) as [string, { code: string; message: string }][];
  } finally {
    chmodSync(dir, 0o700);
    for (const [folder, mode] of opened) chmodSync(folder, mode);
  }
}

let dir: string;
const logs: EventLog[] = [];
function open(options: Partial<Parameters<typeof sqliteLog>[0]> = {}, name = 'log.db'): SqliteLog {
  const log = sqliteLog({ path: join(dir, name), ...options });
  logs.push(log);
  return log;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-sqlite-'));
});
afterEach(async () => {
  for (const log of logs.splice(0)) await log.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqliteLog', () => {
  it('gives the same positions and records as memoryLog for the same appends', async () => {
    const sqlite = open({ partitions: 3 });
    const memory = memoryLog({ partitions: 3 });
    const batches = [
      Array.from({ length: 25 }, (_, i) => created(`s${i % 7}`, i)),
      Array.from({ length: 10 }, (_, i) => renamed(`s${i % 4}`, 100 + i)),
    ];
    for (const batch of batches) expect((await sqlite.append(batch)).map(key)).toEqual((await memory.append(batch)).map(key));
    expect(await readEnds(sqlite, ['0', '1', '2'], {})).toEqual(await readEnds(memory, ['0', '1', '2'], {}));
    expect(await sqlite.partitions()).toEqual(await memory.partitions());
    for (const options of [
      {},
      { types: ['test/renamed'] },
      { from: { after: { '1': '2' } } },
      { from: { at: { '0': '3' } }, partitions: ['0'] },
    ]) {
      const ours = (await readAll(sqlite, { ...options, batchSize: 4 })).flat();
      const theirs = (await readAll(memory, { ...options, batchSize: 4 })).flat();
      for (const record of ours) expect(typeof record.storedAt).toBe('number');
      const byPosition = (records: LogRecord[]) => records.map((r) => [key(r.position), r.event]).sort();
      expect(byPosition(ours), JSON.stringify(options)).toEqual(byPosition(theirs));
    }
    await memory.close();
  });

  it('counts offsets from 0 in each partition, stores the partition count and keeps it on reopen', async () => {
    const log = open({ partitions: 2 });
    const positions = await log.append(Array.from({ length: 10 }, (_, i) => created(`s${i}`, i)));
    for (const partition of ['0', '1']) {
      const offsets = positions.filter((p) => p.partition === partition).map((p) => Number(p.offset));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    await log.close();
    const again = open();
    expect(again.partitionCount).toBe(2);
    expect(await again.partitions()).toEqual([
      { id: '0', parents: [], closed: false },
      { id: '1', parents: [], closed: false },
    ]);
    expect(again.uri).toBe(`sqlite:${join(dir, 'log.db')}`);
  });

  it('stores an id once, within a batch, across batches, across reopen and across two connections', async () => {
    const log = open();
    const first = created('a', 1);
    const [p1, p2] = await log.append([first, { ...first }]);
    expect(p2).toEqual(p1);
    const [p3, p4] = await log.append([created('a', 2), first]);
    expect(p4).toEqual(p1);
    expect(Number(p3?.offset)).toBe(Number(p1?.offset) + 1);
    const other = open({}, 'log.db');
    expect(await other.append([first])).toEqual([p1]);
    await log.close();
    const reopened = open();
    expect(await reopened.append([JSON.parse(JSON.stringify(first)) as Envelope])).toEqual([p1]);
    expect((await readAll(reopened)).flat()).toHaveLength(2);
    // An id is the key even when the subject differs, as in the memory log.
    expect(await reopened.append([{ ...first, subject: 'zzz' }])).toEqual([p1]);
  });

  it('gives duplicates deep inside large batches their stored positions, offsets staying dense, as memoryLog does', async () => {
    const sqlite = open({ partitions: 3 });
    const memory = memoryLog({ partitions: 3 });
    const stored = Array.from({ length: 250 }, (_, i) => created(`s${i % 11}`, i));
    const named = (type: string, seq: number) => ({ ...created(`s${seq % 5}`, seq), type });
    const batches: Envelope[][] = [
      stored,
      // A type first seen in a batch that must be written a second time (a stored id at index 230).
      [...Array.from({ length: 230 }, (_, i) => named('test/fresh', 1000 + i)), stored[17] as Envelope, named('test/fresh', 2000)],
      // Duplicates within the batch, past the first chunks.
      (() => {
        const batch = Array.from({ length: 120 }, (_, i) => renamed(`s${i % 7}`, 3000 + i));
        return [...batch, batch[3] as Envelope, batch[110] as Envelope, renamed('s1', 4000)];
      })(),
    ];
    for (const batch of batches) expect((await sqlite.append(batch)).map(key)).toEqual((await memory.append(batch)).map(key));
    expect(await readEnds(sqlite, ['0', '1', '2'], {})).toEqual(await readEnds(memory, ['0', '1', '2'], {}));
    for (const types of [undefined, ['test/fresh'], ['test/renamed', 'test/created']]) {
      const ours = (await readAll(sqlite, { types })).flat().map(({ storedAt, ...record }) => record);
      const theirs = (await readAll(memory, { types })).flat().map(({ storedAt, ...record }) => record);
      const byPosition = (records: LogRecord[]) => records.map((r) => [key(r.position), r.event]).sort();
      expect(byPosition(ours), JSON.stringify(types)).toEqual(byPosition(theirs));
    }
    expect((await readAll(sqlite, { types: ['test/fresh'] })).flat()).toHaveLength(231);
    await memory.close();
  });

  it('agrees on type codes between connections, so each reads the types the other wrote', async () => {
    const a = open({ partitions: 1 });
    const b = open({}, 'log.db');
    await a.append([created('x', 1)]);
    await b.append([renamed('x', 2), created('x', 3)]);
    await a.append([renamed('x', 4)]);
    for (const log of [a, b]) {
      const renames = (await readAll(log, { types: ['test/renamed'] })).flat();
      expect(renames.map((r) => r.position.offset)).toEqual(['1', '3']);
    }
    const types = a.database.prepare('SELECT type FROM riverlog_records ORDER BY "offset"').pluck().all();
    expect(types).toEqual(['test/created', 'test/renamed', 'test/created', 'test/renamed']);
  });

  it('keeps append times from going back within a partition, so a time read stays correct when the clock steps back', async () => {
    const log = open({ partitions: 1 });
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(now);
      await log.append([created('a', 0)]);
      clock.mockReturnValue(now - 60_000);
      const [stepped] = await log.append([created('a', 1)]);
      clock.mockReturnValue(now + 1000);
      const [later] = await log.append([created('a', 2)]);
      const times = log.database.prepare('SELECT appended_at FROM riverlog_records ORDER BY "offset"').pluck().all();
      expect(times).toEqual([now, now, now + 1000]);
      const fromNow = (await readAll(log, { from: { time: now } })).flat();
      expect(fromNow.map((r) => r.position.offset)).toEqual(['0', '1', '2']);
      expect(fromNow.map((r) => r.storedAt)).toEqual([now, now, now + 1000]);
      expect((await readAll(log, { from: { time: now + 1 } })).flat().map((r) => r.position)).toEqual([later]);
      expect(stepped?.offset).toBe('1');
    } finally {
      clock.mockRestore();
    }
  });

  it('reads from a time with a binary search over a partition of many records', async () => {
    const log = open({ partitions: 1 });
    const start = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      for (let i = 0; i < 50; i++) {
        clock.mockReturnValue(start + i * 10);
        await log.append([created('a', 2 * i), created('a', 2 * i + 1)]);
      }
    } finally {
      clock.mockRestore();
    }
    for (const [time, first] of [
      [start - 1, 0],
      [start, 0],
      [start + 1, 2],
      [start + 250, 50],
      [start + 490, 98],
      [start + 491, 100],
    ] as const) {
      const records = (await readAll(log, { from: { time } })).flat();
      expect(records[0]?.position.offset ?? '100', `time +${time - start}`).toBe(String(first));
      expect(records).toHaveLength(100 - first);
    }
  });

  it('filters by type in the database, over pages with few matches, and never yields more than batchSize', async () => {
    const log = open({ partitions: 1 });
    await log.append(Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? renamed('a', i) : created('a', i))));
    const batches = await readAll(log, { types: ['test/renamed'], batchSize: 4 });
    const records = batches.flat();
    expect(records.map((r) => r.position.offset)).toEqual(['7', '57', '107', '157', '207', '257']);
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(4);
    expect((await readAll(log, { types: [] })).flat()).toEqual([]);
  });

  it('refuses an oversize event before writing anything; an event of exactly the limit fits', async () => {
    const log = open({ maxEventBytes: 2048 });
    const small = created('a', 0);
    const big = createEvent(catalog, 'test/renamed', 'b', { seq: 1, name: 'é'.repeat(1100) }, { source });
    const error = await log.append([small, big]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventTooLargeError);
    expect(error).toMatchObject({ code: 'EVENT_TOO_LARGE', size: envelopeBytes(big), limit: 2048, id: big.id });
    expect(await readEnds(log, ['0', '1', '2', '3'], {})).toEqual({});
    const base = envelopeBytes(createEvent(catalog, 'test/renamed', 'c', { seq: 1, name: '' }, { source }));
    const exact = createEvent(catalog, 'test/renamed', 'c', { seq: 1, name: 'x'.repeat(2048 - base) }, { source });
    expect(envelopeBytes(exact)).toBe(2048);
    expect(await log.append([exact])).toHaveLength(1);
  });

  // Bad read options and non-envelopes in an append are contract cases (@riverlog/testing), run by test/contract.
  it('refuses bad sqliteLog options with one clear error', async () => {
    expect(() => sqliteLog({ path: join(dir, 'x.db'), partitions: 0 })).toThrow(RiverlogError);
    expect(() => sqliteLog({ path: '' })).toThrow(/path must be a non-empty string/);
  });

  it('names the file in an unknown-partition refusal', async () => {
    const log = open({ partitions: 2 });
    await expect(readAll(log, { partitions: ['7'] })).rejects.toThrow(
      `SQLite log ${join(dir, 'log.db')} has no partition "7"; it has 0, 1.`,
    );
  });

  it('reads nothing from an offset past what a partition can hold (2^40), however long, and keeps a later read exact', async () => {
    const log = open({ partitions: 1 });
    await log.append([created('a', 0), created('a', 1)]);
    for (const offset of ['1099511627775', '1099511627776', '9007199254740993', '123456789012345678901234567890']) {
      expect((await readAll(log, { from: { after: { '0': offset } } })).flat(), offset).toEqual([]);
      expect((await readAll(log, { from: { at: { '0': offset } } })).flat(), offset).toEqual([]);
    }
    expect((await readAll(log, { from: { at: { '0': '1' } } })).flat().map((r) => r.position.offset)).toEqual(['1']);
  });

  it('delivers an append to a following reader of the same log and of another log on the same file', async () => {
    const writer = open();
    const reader = open({}, 'log.db');
    const controller = new AbortController();
    const seen: { own: LogRecord[]; other: LogRecord[] } = { own: [], other: [] };
    const follow = async (log: EventLog, into: LogRecord[]) => {
      for await (const batch of log.read({ from: 'latest', follow: true, signal: controller.signal })) into.push(...batch.records);
    };
    const reading = Promise.all([follow(writer, seen.own), follow(reader, seen.other)]);
    await new Promise((resolve) => setImmediate(resolve));
    const positions = await writer.append([created('a', 1), created('b', 2)]);
    await until(() => seen.own.length === 2 && seen.other.length === 2, 'both readers to see the append');
    expect(seen.other.map((r) => r.position).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      [...positions].sort((a, b) => key(a).localeCompare(key(b))),
    );
    controller.abort();
    await reading;
  });

  it('notices a commit made by another connection (another process) through the file watch', async () => {
    const log = open({ partitions: 1 });
    await log.append([created('a', 0)]);
    const seen: LogRecord[] = [];
    const reading = (async () => {
      for await (const batch of log.read({ from: 'earliest', follow: true })) seen.push(...batch.records);
    })();
    await until(() => seen.length === 1, 'the first record');
    // A second connection that is not a SqliteLog of this process: no in-process wake-up reaches the reader.
    const foreign = new Database(join(dir, 'log.db'));
    const event = created('a', 1);
    foreign
      .prepare(
        'INSERT INTO riverlog_events_0 ("offset", type_code, envelope) VALUES (1, (SELECT code FROM riverlog_event_types WHERE type = ?), ?)',
      )
      .run(event.type, JSON.stringify(event));
    foreign.close();
    await until(() => seen.length === 2, 'the record committed by the other connection', 3000);
    expect(seen[1]?.event).toEqual(JSON.parse(JSON.stringify(event)));
    await log.close();
    await reading;
  });

  it('ends a following read on close, and rejects every call after close with ClosedError', async () => {
    const log = open();
    let ended = false;
    const reading = (async () => {
      for await (const _ of log.read({ follow: true })) {
        // nothing to read
      }
      ended = true;
    })();
    await new Promise((resolve) => setImmediate(resolve));
    await log.close();
    await reading;
    expect(ended).toBe(true);
    await log.close();
    await expect(log.append([created('a', 0)])).rejects.toBeInstanceOf(ClosedError);
    await expect(log.partitions()).rejects.toBeInstanceOf(ClosedError);
    expect(() => log.read()).toThrow(ClosedError);
  });

  it('yields a record whose stored text is not JSON with the raw text and the reason', async () => {
    const log = open({ partitions: 1 });
    log.database.prepare("INSERT INTO riverlog_events_0 VALUES (0, 0, '{not json')").run();
    const [record] = (await readAll(log)).flat();
    expect(record).toMatchObject({ position: { partition: '0', offset: '0' }, event: undefined, raw: '{not json' });
    expect(record?.error).toMatch(/^not JSON/);
  });

  it('gives every record its append time, across pages and batches of several appends', async () => {
    const log = open({ partitions: 1 });
    const start = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      for (let i = 0; i < 6; i++) {
        clock.mockReturnValue(start + i * 100);
        await log.append([created('a', 3 * i), created('a', 3 * i + 1), created('a', 3 * i + 2)]);
      }
    } finally {
      clock.mockRestore();
    }
    const records = (await readAll(log, { batchSize: 4, from: { at: { '0': '2' } } })).flat();
    expect(records.map((r) => r.storedAt)).toEqual(records.map((r) => start + Math.floor(Number(r.position.offset) / 3) * 100));
  });

  it('yields a caught-up batch for each partition each time it reaches its end, with the lag in records before it', async () => {
    const log = open({ partitions: 2 });
    const positions = await log.append(Array.from({ length: 10 }, () => created('a', 0)));
    const full = positions[0]?.partition as string;
    const empty = full === '0' ? '1' : '0';
    const batches: ReadBatch[] = [];
    for await (const batch of log.read({ batchSize: 4 })) batches.push(batch);
    const summary = (b: ReadBatch) => [b.partition, b.records.length, b.caughtUp, b.ended, b.lag];
    expect(batches.filter((b) => b.partition === full).map(summary)).toEqual([
      [full, 4, false, false, { records: 6 }],
      [full, 4, false, false, { records: 2 }],
      [full, 2, true, false, { records: 0 }],
    ]);
    expect(batches.filter((b) => b.partition === empty).map(summary)).toEqual([[empty, 0, true, false, { records: 0 }]]);
    // A page that ends exactly at the end is caught up at once.
    const exact: ReadBatch[] = [];
    for await (const batch of log.read({ batchSize: 5, partitions: [full] })) exact.push(batch);
    expect(exact.map(summary)).toEqual([
      [full, 5, false, false, { records: 5 }],
      [full, 5, true, false, { records: 0 }],
    ]);

    const controller = new AbortController();
    const followed: ReadBatch[] = [];
    const reading = (async () => {
      for await (const batch of log.read({ from: 'latest', follow: true, signal: controller.signal, partitions: [full] })) {
        followed.push(batch);
      }
    })();
    await until(() => followed.length === 1, 'the caught-up batch at the start');
    await log.append([created('a', 1), created('a', 2)]);
    await until(() => followed.length === 2, 'the caught-up batch after the append');
    expect(followed.map(summary)).toEqual([
      [full, 0, true, false, { records: 0 }],
      [full, 2, true, false, { records: 0 }],
    ]);
    controller.abort();
    await reading;
  });

  it('reads a partition checkpointed at PARTITION_END as one empty ended batch', async () => {
    const log = open({ partitions: 2 });
    await log.append([created('a', 0), created('b', 0)]);
    const batches: ReadBatch[] = [];
    for await (const batch of log.read({ from: { after: { '0': PARTITION_END } }, follow: true, partitions: ['0'] })) batches.push(batch);
    expect(batches).toEqual([{ partition: '0', records: [], caughtUp: true, ended: true, lag: { records: 0 } }]);
  });

  it('waits for another connection to release its write lock without blocking the process, and gives up with LOG_BUSY after busyTimeoutMs', async () => {
    const log = open({ partitions: 1 });
    await log.append([created('a', 0)]);
    const other = new Database(join(dir, 'log.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    let ticks = 0;
    let longestGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 5);
    try {
      const appending = log.append([created('a', 1)]);
      // The lock is released by a timer: it can fire only if the append does not block the process meanwhile.
      await until(() => ticks >= 20, 'the timer to tick while the append waits');
      other.prepare('COMMIT').run();
      expect(await appending).toEqual([{ partition: '0', offset: '1' }]);
      // Blocking waits would have stalled the timer for the whole 10 s busy timeout; a loaded machine may delay it, not that much.
      expect(longestGap).toBeLessThan(1000);

      const impatient = open({ partitions: 1, busyTimeoutMs: 50 }, 'log.db');
      other.prepare('BEGIN IMMEDIATE').run();
      await expect(impatient.append([created('a', 2)])).rejects.toMatchObject({ code: 'LOG_BUSY' });
      other.prepare('ROLLBACK').run();
    } finally {
      clearInterval(ticker);
      other.close();
    }
  });

  it('yields a record whose stored bytes are not valid UTF-8 as unreadable, naming the byte, instead of replacing them', async () => {
    const log = open({ partitions: 1 });
    const good = created('a', 0);
    await log.append([good]);
    const text = JSON.stringify(created('a', 1));
    const at = text.indexOf('sqlite/test');
    // A foreign writer stored bytes that are not UTF-8 inside a JSON string (0xC3 starts a 2-byte sequence; '(' at
    // the next byte cannot continue it): replaced by U+FFFD, the text would still parse.
    const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(at))]);
    log.database.prepare('INSERT INTO riverlog_events_0 VALUES (1, 0, CAST(? AS TEXT))').run(bytes);
    // A valid U+FFFD written by a producer is a character like any other.
    const replacement = renamed('a', 2);
    const withReplacement = { ...replacement, data: { ...(replacement.data as object), name: 'broken \uFFFD sign' } };
    await log.append([withReplacement]);
    const records = (await readAll(log)).flat();
    expect(records[0]?.event).toEqual(JSON.parse(JSON.stringify(good)));
    expect(records[1]).toMatchObject({ position: { partition: '0', offset: '1' }, event: undefined });
    expect(records[1]?.raw).toBe(bytes.toString('utf8'));
    expect(records[1]?.error).toMatch(/UTF-8/);
    expect(records[1]?.error).toContain(`the stored envelope at byte ${at + 1}`);
    expect(records[2]?.event).toEqual(JSON.parse(JSON.stringify(withReplacement)));
  });

  it('refuses to open a log in a directory it may not write with LOG_OPEN_FAILED (not LOG_FORMAT), naming the file', async () => {
    const existing = join(dir, 'existing.db');
    const created = sqliteLog({ path: existing });
    await created.close();
    const results = await openAsAnotherUser(dir, [join(dir, 'new.db'), existing]);
    for (const [path, result] of results) {
      expect(result, path).toMatchObject({ code: 'LOG_OPEN_FAILED' });
      expect(result.message, path).toContain(path);
    }
  });

  it('reads a large partition in pages, round-robin with the other partitions', async () => {
    const log = open({ partitions: 2 });
    const events = Array.from({ length: 2500 }, (_, i) => created(i % 5 === 0 ? 'x' : `s${i}`, i));
    await log.append(events);
    const batches = await readAll(log, { batchSize: 500 });
    expect(batches.flat()).toHaveLength(2500);
    // The first two batches come from different partitions: neither waits for the other to be drained.
    expect(batches[0]?.[0]?.position.partition).not.toBe(batches[1]?.[0]?.position.partition);
  });
});
