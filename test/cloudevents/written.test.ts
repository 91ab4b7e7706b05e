// Issue 9, finding 2: every envelope riverlog writes passes the official CloudEvents SDK (cloudevents 10).
// Read back raw from each log (the memory log's records, the SQLite file's rows) and from each
// dead-letter sink (memory, SQLite, and a dead-letter log on memory and SQLite).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsumer, logDeadLetters } from '@riverlog/consumer';
import {
  type DeadLetter,
  type DeadLetterSink,
  type Envelope,
  type EventLog,
  memoryCheckpointStore,
  memoryDeadLetters,
  memoryLog,
  partitionForSubject,
} from '@riverlog/core';
import { createProducer } from '@riverlog/producer';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLog } from '@riverlog/sqlite';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalog, expectSdkAccepts, sampleEvents, source, troubleEvents } from './support.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'riverlog-cloudevents-'));
});
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

/** Every record of a log, read through riverlog: the stored object or text. */
async function readAll(log: EventLog): Promise<unknown[]> {
  const events: unknown[] = [];
  const ended = new Set<string>();
  const partitions = (await log.partitions()).length;
  for await (const batch of log.read({ from: 'earliest' })) {
    for (const record of batch.records) events.push(record.event);
    if (batch.caughtUp) ended.add(batch.partition);
    if (ended.size === partitions) break;
  }
  return events;
}

/** The envelope column of every row of a SQLite log file, as another program reads the file. */
function fileRows(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT envelope FROM riverlog_records ORDER BY partition, "offset"').raw().all() as [string][]).map(
      ([text]) => text,
    );
  } finally {
    db.close();
  }
}

/** What producers write: events made by the catalog (appended as they are) and by a producer. */
async function writeSamples(log: EventLog): Promise<Envelope[]> {
  const made = sampleEvents(['p1', 'p2', 'p3']);
  await log.append(made);
  const producer = createProducer({ log, catalog, source });
  await producer.emit('product/create', 'p4', { id: 'p4', name: 'Sandal', brand: 'Zed' }, { correlationid: 'c-4' });
  await producer.emitMany([
    { type: 'product/price', subject: 'p4', data: { id: 'p4', cents: 500, tags: [] } },
    {
      type: 'product/price',
      subject: 'p5',
      data: { id: 'p5', cents: 0, tags: ['new'] },
      meta: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    },
  ]);
  await producer.close();
  return made;
}

describe('what the logs hold passes the CloudEvents SDK', () => {
  it('the memory log: every record, as it reads back', async () => {
    const log = memoryLog({ partitions: 3 });
    closers.push(() => log.close());
    await writeSamples(log);
    const events = await readAll(log);
    expect(events).toHaveLength(9 + 3);
    for (const [i, event] of events.entries()) expectSdkAccepts(event, `memory log record ${i}`);
  });

  it("the SQLite log: every row of the file, as another program reads it, and the SDK's data is riverlog's", async () => {
    const path = join(dir, 'log.db');
    const log = sqliteLog({ path, partitions: 3 });
    closers.push(() => log.close());
    const made = await writeSamples(log);
    const rows = fileRows(path);
    expect(rows).toHaveLength(9 + 3);
    for (const [i, text] of rows.entries()) {
      const parsed = expectSdkAccepts(JSON.parse(text), `SQLite row ${i}`);
      const original = made.find((e) => e.id === parsed.id);
      if (original) {
        expect(parsed.data).toEqual(original.data);
        expect(parsed.dataschema).toBe(original.dataschema);
        expect(parsed.time).toBe(new Date(original.time).toISOString());
      }
    }
  });

  it('the check can fail: the SDK refuses what riverlog used to write (`type@version` dataschema)', () => {
    const [event] = sampleEvents(['p1']);
    expect(() => expectSdkAccepts({ ...event, dataschema: 'product/create@2' }, 'old dataschema')).toThrow(/dataschema/);
  });
});

/** A sink that sends every letter to each of `sinks` (a user's fan-out: durable once all are). */
function fanOut(...sinks: DeadLetterSink[]): DeadLetterSink {
  return {
    async send(letters) {
      for (const sink of sinks) await sink.send(letters);
    },
  };
}

/**
 * Appends, to `log`, one record for each kind of dead letter a consumer
 * makes: an unknown type, a newer version, a payload failing its schema, an
 * event whose handler keeps failing; and good events around them.
 */
async function appendTroubles(log: EventLog): Promise<void> {
  const { good, unknownType, newer, invalid, failing } = troubleEvents();
  await log.append([good, unknownType, newer, invalid, failing]);
}

/** Runs a consumer over `log` to its end, every kind of trouble dead-lettered to `deadLetters`. */
async function consumeTroubles(log: EventLog, deadLetters: DeadLetterSink, checkpoints = memoryCheckpointStore()): Promise<void> {
  const consumer = createConsumer({
    log,
    catalog,
    group: 'shop-sync',
    checkpoints,
    deadLetters,
    onUnreadable: 'dead-letter',
    retry: { attempts: 1 },
    handlers: {
      'product/create': () => {},
      'product/price': (event) => {
        if (event.subject === 'boom') throw new Error('the price service refused it');
      },
    },
  });
  await consumer.start();
  await consumer.caughtUp({ timeoutMs: 10_000 });
  await consumer.stop();
}

const EXPECTED_CODES = ['DECODE_FAILED', 'HANDLER_FAILED', 'UNKNOWN_EVENT_TYPE', 'UNREADABLE_VERSION'];

function checkLetters(letters: readonly DeadLetter[], codes: readonly string[], where: string): void {
  expect(letters.map((l) => l.code).sort()).toEqual([...codes].sort());
  for (const letter of letters) {
    // The stored event a letter keeps is what the log held: a CloudEvent too.
    if (letter.record.event !== undefined) expectSdkAccepts(letter.record.event, `${where}: ${letter.code} letter's event`);
  }
}

describe('the dead letters each sink stores pass the CloudEvents SDK', () => {
  it('memory log: the memory sink, and a dead-letter memory log (each riverlog/dead-letter event)', async () => {
    const log = memoryLog({ partitions: 2 });
    const letterLog = memoryLog({ partitions: 1 });
    closers.push(
      () => log.close(),
      () => letterLog.close(),
    );
    await appendTroubles(log);
    const memory = memoryDeadLetters();
    await consumeTroubles(log, fanOut(memory, logDeadLetters(letterLog)));
    checkLetters(memory.letters, EXPECTED_CODES, 'memory sink');
    const stored = await readAll(letterLog);
    expect(stored).toHaveLength(EXPECTED_CODES.length);
    for (const [i, event] of stored.entries()) {
      const parsed = expectSdkAccepts(event, `dead-letter log record ${i}`);
      expect(parsed.type).toBe('riverlog/dead-letter');
    }
  });

  it('SQLite log with foreign rows (not JSON, invalid UTF-8): the SQLite sink, and a dead-letter SQLite log (each row of its file)', async () => {
    const path = join(dir, 'log.db');
    const log = sqliteLog({ path, partitions: 2 });
    closers.push(() => log.close());
    await appendTroubles(log);
    // Another program writes rows riverlog cannot read as envelopes, after riverlog's own.
    const partition = partitionForSubject('foreign', 2);
    const db = new Database(path);
    const next = (db.prepare(`SELECT COALESCE(MAX("offset"), -1) + 1 FROM riverlog_events_${partition}`).pluck().get() as number) ?? 0;
    db.prepare(`INSERT INTO riverlog_events_${partition} ("offset", type_code, envelope) VALUES (?, 0, ?)`).run(next, '{not json');
    db.prepare(`INSERT INTO riverlog_events_${partition} ("offset", type_code, envelope) VALUES (?, 0, CAST(? AS TEXT))`).run(
      next + 1,
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), // {"a":"\xc3(" }: invalid UTF-8
    );
    db.close();

    const sink = sqliteDeadLetters({ path: join(dir, 'dead-letters.db') });
    const letterPath = join(dir, 'letters.db');
    const letterLog = sqliteLog({ path: letterPath, partitions: 1 });
    closers.push(
      () => sink.close(),
      () => letterLog.close(),
    );
    const checkpoints = sqliteCheckpointStore({ path: join(dir, 'checkpoints.db') });
    closers.push(() => checkpoints.close());
    await consumeTroubles(log, fanOut(sink, logDeadLetters(letterLog)), checkpoints);

    const codes = [...EXPECTED_CODES, 'DECODE_FAILED', 'DECODE_FAILED'];
    const letters = await sink.list('shop-sync');
    checkLetters(letters, codes, 'SQLite sink');
    expect(letters.filter((l) => l.record.event === undefined).map((l) => l.record.error)).toEqual([
      expect.stringMatching(/JSON/),
      expect.stringMatching(/UTF-8/),
    ]);
    const rows = fileRows(letterPath);
    expect(rows).toHaveLength(codes.length);
    for (const [i, text] of rows.entries()) {
      const parsed = expectSdkAccepts(JSON.parse(text), `dead-letter SQLite row ${i}`);
      expect(parsed).toMatchObject({ type: 'riverlog/dead-letter', source: 'riverlog/consumer' });
    }
  });
});
