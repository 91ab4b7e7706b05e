import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClosedError,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  EventTooLargeError,
  envelopeBytes,
  type LogRecord,
  memoryLog,
  type Position,
  type ReadOptions,
  RiverlogError,
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
const created = (subject: string, seq: number) => catalog.create('test/created', subject, { seq }, { source });
const renamed = (subject: string, seq: number) => catalog.create('test/renamed', subject, { seq, name: `n${seq}` }, { source });
const key = (p: Position) => `${p.partition}/${p.offset}`;

async function readAll(log: EventLog, options: ReadOptions = {}): Promise<LogRecord[][]> {
  const batches: LogRecord[][] = [];
  for await (const batch of log.read(options)) batches.push(batch);
  return batches;
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
    expect(await sqlite.heads()).toEqual(await memory.heads());
    expect(await sqlite.partitions()).toEqual(await memory.partitions());
    for (const options of [
      {},
      { types: ['test/renamed'] },
      { from: { after: { '1': '2' } } },
      { from: { at: { '0': '3' } }, partitions: ['0'] },
    ]) {
      const ours = (await readAll(sqlite, { ...options, maxBatch: 4 })).flat();
      const theirs = (await readAll(memory, { ...options, maxBatch: 4 })).flat();
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
    expect(await again.partitions()).toEqual(['0', '1']);
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
    expect(await sqlite.heads()).toEqual(await memory.heads());
    for (const types of [undefined, ['test/fresh'], ['test/renamed', 'test/created']]) {
      const ours = (await readAll(sqlite, { types })).flat();
      const theirs = (await readAll(memory, { types })).flat();
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

  it('filters by type in the database, over pages with few matches, and never yields more than maxBatch', async () => {
    const log = open({ partitions: 1 });
    await log.append(Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? renamed('a', i) : created('a', i))));
    const batches = await readAll(log, { types: ['test/renamed'], maxBatch: 4 });
    const records = batches.flat();
    expect(records.map((r) => r.position.offset)).toEqual(['7', '57', '107', '157', '207', '257']);
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(4);
    expect((await readAll(log, { types: [] })).flat()).toEqual([]);
  });

  it('refuses an oversize event before writing anything; an event of exactly the limit fits', async () => {
    const log = open({ maxEventBytes: 2048 });
    const small = created('a', 0);
    const big = catalog.create('test/renamed', 'b', { seq: 1, name: 'é'.repeat(1100) }, { source });
    const error = await log.append([small, big]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventTooLargeError);
    expect(error).toMatchObject({ code: 'EVENT_TOO_LARGE', size: envelopeBytes(big), limit: 2048, id: big.id });
    expect(await log.heads()).toEqual({});
    const base = envelopeBytes(catalog.create('test/renamed', 'c', { seq: 1, name: '' }, { source }));
    const exact = catalog.create('test/renamed', 'c', { seq: 1, name: 'x'.repeat(2048 - base) }, { source });
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
      for await (const batch of log.read({ from: 'latest', follow: true, signal: controller.signal })) into.push(...batch);
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
      for await (const batch of log.read({ from: 'earliest', follow: true })) seen.push(...batch);
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
    await expect(log.heads()).rejects.toBeInstanceOf(ClosedError);
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

  it('reads a large partition in pages, round-robin with the other partitions', async () => {
    const log = open({ partitions: 2 });
    const events = Array.from({ length: 2500 }, (_, i) => created(i % 5 === 0 ? 'x' : `s${i}`, i));
    await log.append(events);
    const batches = await readAll(log, { maxBatch: 500 });
    expect(batches.flat()).toHaveLength(2500);
    // The first two batches come from different partitions: neither waits for the other to be drained.
    expect(batches[0]?.[0]?.position.partition).not.toBe(batches[1]?.[0]?.position.partition);
  });
});
