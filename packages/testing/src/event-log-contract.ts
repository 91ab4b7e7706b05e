import {
  ClosedError,
  compareOffsets,
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  EventTooLargeError,
  envelopeBytes,
  type Lag,
  type LogRecord,
  PARTITION_END,
  type PartitionInfo,
  type Position,
  type PositionMap,
  type ReadBatch,
  type ReadOptions,
  RiverlogError,
  readEnds,
  t,
  ValidationError,
} from '@riverlog/core';
import { preview, readLineage } from '@riverlog/core/backend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from './until.js';

/** What a contract factory hands the suite: a fresh, empty log, and how to dispose of it. */
export interface EventLogUnderTest {
  /** A new, empty log. The suite closes it after each test. */
  readonly log: EventLog;
  /** Removes what the log left behind (files, topics, streams). Runs after the log is closed. */
  readonly cleanup?: () => Promise<void>;
  /**
   * Opens the same storage again after `log` was closed. Durable backends
   * provide it; the suite then checks that records survive a reopen.
   */
  readonly reopen?: () => Promise<EventLog>;
  /**
   * How to split and merge the log's partitions, for logs that can reshard
   * (the memory log, Kinesis); the suite then runs its lineage cases. Each
   * resolves once the change is done and `partitions()` lists the children.
   * The suite merges only the two children of one split (adjacent, as
   * Kinesis requires).
   */
  readonly reshard?: LogResharding;
}

/** Splits and merges partitions of a log under test. */
export interface LogResharding {
  /** Closes an open partition and opens two children that take its subjects. */
  split(partition: string): Promise<unknown>;
  /** Closes two open partitions and opens one child that takes the subjects of both. */
  merge(a: string, b: string): Promise<unknown>;
}

export interface EventLogContractOptions {
  /** How long to wait for something that must happen, e.g. a followed append (ms). Default 10,000. */
  readonly timeoutMs?: number;
  /** Events in the one large append. Default 10,000. */
  readonly largeBatch?: number;
  /**
   * Whether the backend keeps records across close and reopen (its factory
   * then returns `reopen`). Default true; false for in-process logs, whose
   * reopen test is then not registered at all (rather than skipped).
   */
  readonly durable?: boolean;
  /**
   * Whether the log can split and merge partitions (its factory then returns
   * `reshard`): registers the lineage cases. Default false.
   */
  readonly reshards?: boolean;
}

const source = 'riverlog/contract';
const Created = defineEvent('contract/thing-created', { data: { id: t.string, seq: t.number } });
const Renamed = defineEvent('contract/thing-renamed', { data: { id: t.string, seq: t.number, name: t.string } });
const Padded = defineEvent('contract/thing-padded', { data: { id: t.string, padding: t.string } });
const catalog = defineCatalog([Created, Renamed, Padded]);

function created(subject: string, seq: number): Envelope {
  return createEvent(catalog, 'contract/thing-created', subject, { id: subject, seq }, { source });
}

function renamed(subject: string, seq: number): Envelope {
  return createEvent(catalog, 'contract/thing-renamed', subject, { id: subject, seq, name: `name-${seq}` }, { source });
}

function padded(subject: string, padding: string): Envelope {
  return createEvent(catalog, 'contract/thing-padded', subject, { id: subject, padding }, { source });
}

/** `count` events spread over `subjects` subjects, seq counting per subject from `firstSeq`. */
function events(count: number, subjects: number, firstSeq = 0): Envelope[] {
  return Array.from({ length: count }, (_, i) => created(`thing-${i % subjects}`, firstSeq + Math.floor(i / subjects)));
}

const key = (position: Position) => `${position.partition}/${position.offset}`;
const plain = (position: Position): Position => ({ partition: position.partition, offset: position.offset });
const eventOf = (record: LogRecord) => record.event as Envelope<string, { id: string; seq: number }>;

/** A read's records and batches, checked (see {@link checkBatches}). */
interface ReadResult {
  readonly records: LogRecord[];
  readonly batches: ReadBatch[];
}

/**
 * Reads until the read ends (not following), checking what every read must
 * hold: each batch's records are of its partition with increasing offsets, no
 * more than `batchSize`, lag non-negative and zero when caught up, `ended`
 * only with `caughtUp`, and every partition read ends on a caught-up batch.
 */
/** The records of each partition, in the order read. */
function byPartition(records: readonly LogRecord[]): Record<string, LogRecord[]> {
  const grouped: Record<string, LogRecord[]> = {};
  for (const record of records) {
    const partition = record.position.partition;
    grouped[partition] = [...(grouped[partition] ?? []), record];
  }
  return grouped;
}

async function readAll(log: EventLog, options: ReadOptions = {}): Promise<ReadResult> {
  const batches: ReadBatch[] = [];
  for await (const batch of log.read({ from: 'earliest', ...options })) batches.push(batch);
  checkBatches(batches, options.batchSize);
  const read = options.partitions ?? (await log.partitions()).map((p) => p.id);
  for (const partition of new Set(read)) {
    const own = batches.filter((b) => b.partition === partition);
    expect(own.length, `partition ${partition} yields at least one batch`).toBeGreaterThan(0);
    expect(own[own.length - 1]?.caughtUp, `partition ${partition}: the read's last batch is caught up`).toBe(true);
  }
  expect(
    batches.every((b) => read.includes(b.partition)),
    'only the partitions read',
  ).toBe(true);
  return { records: batches.flatMap((b) => b.records), batches };
}

/** The number a lag holds, records or milliseconds. */
function lagValue(lag: Lag): number {
  return 'records' in lag ? lag.records : lag.ms;
}

/** What every batch of every read (following or not) must hold. */
function checkBatches(batches: readonly ReadBatch[], batchSize?: number): void {
  const last = new Map<string, string>();
  const ended = new Set<string>();
  for (const batch of batches) {
    expect(typeof batch.partition, 'a batch names its partition').toBe('string');
    expect(ended.has(batch.partition), `partition ${batch.partition}: nothing after its ended batch`).toBe(false);
    if (batch.ended) {
      expect(batch.caughtUp, 'ended implies caught up').toBe(true);
      ended.add(batch.partition);
    }
    const lag = lagValue(batch.lag);
    expect(lag, `partition ${batch.partition}: lag is a number ≥ 0`).toBeGreaterThanOrEqual(0);
    if (batch.caughtUp) expect(lag, `partition ${batch.partition}: lag is 0 in a caught-up batch`).toBe(0);
    if (batchSize !== undefined) expect(batch.records.length).toBeLessThanOrEqual(batchSize);
    for (const record of batch.records) {
      expect(record.position.partition, 'every record of a batch is of its partition').toBe(batch.partition);
      expect(record.position.offset, 'offsets are decimal strings').toMatch(/^\d+$/);
      const previous = last.get(record.position.partition);
      if (previous !== undefined) {
        expect(
          compareOffsets(previous, record.position.offset),
          `partition ${record.position.partition}: offset ${record.position.offset} after ${previous}`,
        ).toBe(-1);
      }
      last.set(record.position.partition, record.position.offset);
    }
  }
}

/** The last offset of each partition that holds records, from a full read. */
function lastOffsets(records: readonly LogRecord[]): PositionMap {
  const ends: Record<string, string> = {};
  for (const record of records) ends[record.position.partition] = record.position.offset;
  return ends;
}

const ids = (partitions: readonly PartitionInfo[]) => partitions.map((p) => p.id);

async function rejectionOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** Reads to the end with `options` and returns the rejection, checking it is a `RiverlogError` of `code` whose message names `mentions`. */
async function refusedRead(log: EventLog, options: ReadOptions, code: string, mentions: readonly string[]): Promise<RiverlogError> {
  const error = await rejectionOf(() => readAll(log, options));
  const what = `read(${describeOptions(options)})`;
  expect(error, what).toBeInstanceOf(RiverlogError);
  expect((error as RiverlogError).code, `${what}: ${(error as Error).message}`).toBe(code);
  for (const text of mentions) expect((error as RiverlogError).message, what).toContain(text);
  return error as RiverlogError;
}

function describeOptions(options: ReadOptions): string {
  return JSON.stringify(options, (_, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? String(value) : value === undefined ? '(undefined)' : value,
  );
}

/**
 * The behaviour every `EventLog` must show, as a vitest suite. Call it from a
 * test file of the backend with a factory that makes a fresh, empty log per
 * test; the suite closes the log and calls `cleanup` after each one.
 *
 * @example
 * import { memoryLog } from '@riverlog/core';
 * import { describeEventLogContract } from '@riverlog/testing';
 *
 * describeEventLogContract('memory log', async () => ({ log: memoryLog() }));
 *
 * @example
 * describeEventLogContract('sqlite log', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'riverlog-'));
 *   const path = join(dir, 'log.db');
 *   return {
 *     log: sqliteLog({ path }),
 *     reopen: async () => sqliteLog({ path }),
 *     cleanup: () => rm(dir, { recursive: true, force: true }),
 *   };
 * });
 */
export function describeEventLogContract(
  name: string,
  factory: () => Promise<EventLogUnderTest>,
  options: EventLogContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const largeBatch = options.largeBatch ?? 10_000;

  describe(`EventLog contract: ${name}`, () => {
    let subject: EventLogUnderTest;
    let log: EventLog;
    const opened: EventLog[] = [];

    beforeEach(async () => {
      subject = await factory();
      log = subject.log;
      opened.push(log);
    });

    afterEach(async () => {
      for (const each of opened.splice(0)) await each.close();
      await subject.cleanup?.();
    });

    it('an empty log: partitions are listed with their lineage, a read yields one empty caught-up batch per partition and ends', async () => {
      const partitions = await log.partitions();
      expect(partitions.length).toBeGreaterThan(0);
      expect(new Set(ids(partitions)).size).toBe(partitions.length);
      for (const partition of partitions) {
        expect(typeof partition.id).toBe('string');
        expect(Array.isArray(partition.parents)).toBe(true);
        for (const parent of partition.parents) expect(ids(partitions)).toContain(parent);
        expect(typeof partition.closed).toBe('boolean');
      }
      for (const from of ['earliest', 'latest'] as const) {
        const { batches } = await readAll(log, { from });
        expect(batches.map((b) => [b.partition, b.records.length, b.caughtUp]).sort(), `from ${from}`).toEqual(
          ids(partitions)
            .map((id) => [id, 0, true])
            .sort(),
        );
        for (const batch of batches) expect(lagValue(batch.lag)).toBe(0);
      }
      expect(await readEnds(log, ids(partitions), {})).toEqual({});
      expect(typeof log.uri).toBe('string');
      expect(log.maxEventBytes).toBeGreaterThan(0);
    });

    it('append resolves with the positions read back, the events read back equal those appended, readEnds gives the last offsets', async () => {
      const appended = [...events(12, 4), ...events(12, 4, 3), ...events(6, 6, 6)];
      const positions = [
        ...(await log.append(appended.slice(0, 12))),
        ...(await log.append(appended.slice(12, 24))),
        ...(await log.append(appended.slice(24))),
      ];
      expect(positions).toHaveLength(appended.length);
      expect(new Set(positions.map(key)).size).toBe(appended.length);
      const { records } = await readAll(log);
      expect(records).toHaveLength(appended.length);
      const readBack = new Map(records.map((r) => [eventOf(r).id, r]));
      appended.forEach((event, i) => {
        const record = readBack.get(event.id);
        expect(record, `event ${i} is read back`).toBeDefined();
        expect(plain(record?.position as Position)).toEqual(plain(positions[i] as Position));
        expect(record?.event).toEqual(JSON.parse(JSON.stringify(event)));
      });
      const partitions = ids(await log.partitions());
      const ends = lastOffsets(records);
      expect(await readEnds(log, partitions, {})).toEqual(ends);
      for (const partition of Object.keys(ends)) expect(partitions).toContain(partition);
    });

    it('keeps per-partition order: each batch is one partition in offset order, no larger than batchSize, lag counting down to 0', async () => {
      await log.append(events(60, 5));
      await log.append(events(40, 8, 20));
      const { records, batches } = await readAll(log, { batchSize: 7 });
      expect(records).toHaveLength(100);
      for (const batch of batches) expect(batch.records.length).toBeLessThanOrEqual(7);
      for (const partition of new Set(batches.map((b) => b.partition))) {
        const lags = batches.filter((b) => b.partition === partition).map((b) => lagValue(b.lag));
        expect(lags, `partition ${partition}: lag never grows within a read of a log nobody appends to`).toEqual(
          [...lags].sort((a, b) => b - a),
        );
      }
    });

    it('keeps per-subject order across append calls, and one subject stays in one partition', async () => {
      for (let seq = 0; seq < 8; seq++) {
        await log.append(Array.from({ length: 10 }, (_, s) => (seq % 2 ? renamed(`thing-${s}`, seq) : created(`thing-${s}`, seq))));
      }
      const { records } = await readAll(log);
      const bySubject = new Map<string, { seqs: number[]; partitions: Set<string> }>();
      for (const record of records) {
        const event = eventOf(record);
        const entry = bySubject.get(event.subject) ?? { seqs: [], partitions: new Set<string>() };
        entry.seqs.push(event.data.seq);
        entry.partitions.add(record.position.partition);
        bySubject.set(event.subject, entry);
      }
      expect(bySubject.size).toBe(10);
      for (const [subjectName, entry] of bySubject) {
        expect(entry.seqs, `order of ${subjectName}`).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        expect(entry.partitions.size, `partitions of ${subjectName}`).toBe(1);
      }
    });

    it("reads from 'latest': nothing that was appended before, and a caught-up batch for every partition", async () => {
      await log.append(events(10, 3));
      const { records, batches } = await readAll(log, { from: 'latest' });
      expect(records).toEqual([]);
      expect(new Set(batches.filter((b) => b.caughtUp).map((b) => b.partition))).toEqual(new Set(ids(await log.partitions())));
    });

    it('reads a partition whose after offset is PARTITION_END as one empty ended batch, the others as usual', async () => {
      await log.append(events(20, 5));
      const partitions = ids(await log.partitions());
      const [finished, ...others] = partitions as [string, ...string[]];
      for (const follow of [false, true]) {
        const batches: ReadBatch[] = [];
        for await (const batch of log.read({ from: { after: { [finished]: PARTITION_END } }, partitions: [finished], follow })) {
          batches.push(batch);
        }
        expect(batches, `follow: ${follow}`).toEqual([
          { partition: finished, records: [], caughtUp: true, ended: true, lag: batches[0]?.lag },
        ]);
        expect(lagValue(batches[0]?.lag as Lag)).toBe(0);
      }
      const { records } = await readAll(log, { from: { after: { [finished]: PARTITION_END } } });
      const all = (await readAll(log)).records;
      expect(records.map((r) => key(r.position)).sort()).toEqual(
        all
          .filter((r) => others.includes(r.position.partition))
          .map((r) => key(r.position))
          .sort(),
      );
    });

    it('a following read yields a caught-up batch on every partition, and again on a partition each time it reaches its end', async () => {
      const first = await log.append(events(12, 6));
      const partitions = ids(await log.partitions());
      const controller = new AbortController();
      const batches: ReadBatch[] = [];
      let failure: unknown;
      const reading = (async () => {
        for await (const batch of log.read({ from: 'earliest', follow: true, signal: controller.signal, batchSize: 5 }))
          batches.push(batch);
      })().catch((error: unknown) => {
        failure = error;
      });
      const caughtUp = () => new Set(batches.filter((b) => b.caughtUp).map((b) => b.partition));
      await until(
        () => caughtUp().size === partitions.length,
        'a caught-up batch from every partition',
        timeoutMs,
        () => failure,
      );
      expect(batches.flatMap((b) => b.records)).toHaveLength(first.length);
      const seen = batches.length;
      const [later] = await log.append([created('thing-later', 0)]);
      const partition = (later as Position).partition;
      await until(
        () => batches.slice(seen).some((b) => b.partition === partition && b.caughtUp),
        `a new caught-up batch of partition ${partition} after the append`,
        timeoutMs,
        () => failure,
      );
      const again = batches.slice(seen);
      expect(again.flatMap((b) => b.records).map((r) => key(r.position))).toEqual([key(later as Position)]);
      expect(again.every((b) => b.partition === partition || b.records.length === 0)).toBe(true);
      controller.abort();
      await reading;
      checkBatches(batches);
    });

    it('reads after a position: later records of that partition; partitions missing from the map from their start', async () => {
      await log.append(events(30, 6));
      const all = (await readAll(log)).records;
      const partition = (all[0] as LogRecord).position.partition;
      const ofPartition = all.filter((r) => r.position.partition === partition);
      expect(ofPartition.length).toBeGreaterThan(2);
      const resumeAt = ofPartition[1] as LogRecord;
      const { records } = await readAll(log, { from: { after: { [partition]: resumeAt.position.offset } } });
      const expected = all.filter(
        (r) => r.position.partition !== partition || compareOffsets(r.position.offset, resumeAt.position.offset) > 0,
      );
      expect(records.map((r) => key(r.position)).sort()).toEqual(expected.map((r) => key(r.position)).sort());
      expect(records.some((r) => key(r.position) === key(resumeAt.position))).toBe(false);
    });

    it('reads at a position: that record and the later ones of its partition', async () => {
      await log.append(events(30, 6));
      const all = (await readAll(log)).records;
      const partition = (all[0] as LogRecord).position.partition;
      const ofPartition = all.filter((r) => r.position.partition === partition);
      const startAt = ofPartition[2] as LogRecord;
      const { records } = await readAll(log, { from: { at: { [partition]: startAt.position.offset } }, partitions: [partition] });
      expect(records.map((r) => plain(r.position))).toEqual(ofPartition.slice(2).map((r) => plain(r.position)));
      expect(records[0]?.event).toEqual(startAt.event);
    });

    it('reads from a time: only records appended at or after it, given as Date, epoch ms or ISO text', async () => {
      await log.append(events(12, 4));
      const before = Date.now();
      await until(() => Date.now() > before, 'the clock to move on', timeoutMs);
      const from = Date.now();
      const later = events(8, 4, 100);
      const laterPositions = await log.append(later);
      const expected = laterPositions.map(key).sort();
      for (const time of [new Date(from), from, new Date(from).toISOString()]) {
        const { records } = await readAll(log, { from: { time } });
        expect(records.map((r) => key(r.position)).sort(), `from time ${String(time)}`).toEqual(expected);
      }
      const { records: everything } = await readAll(log, { from: { time: before - 60_000 } });
      expect(everything).toHaveLength(20);
    });

    it('filters by type: only the types asked for, at the same positions as in a full read', async () => {
      await log.append(Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? renamed(`thing-${i % 4}`, i) : created(`thing-${i % 4}`, i))));
      const all = (await readAll(log)).records;
      const { records } = await readAll(log, { types: ['contract/thing-renamed'] });
      const expected = all.filter((r) => eventOf(r).type === 'contract/thing-renamed');
      expect(records).toHaveLength(10);
      expect(records.map((r) => key(r.position)).sort()).toEqual(expected.map((r) => key(r.position)).sort());
      const both = await readAll(log, { types: ['contract/thing-renamed', 'contract/thing-created'] });
      expect(both.records).toHaveLength(30);
      expect((await readAll(log, { types: ['contract/thing-padded'] })).records).toEqual([]);
    });

    it('reads only the partitions asked for', async () => {
      await log.append(events(40, 10));
      const all = (await readAll(log)).records;
      const used = [...new Set(all.map((r) => r.position.partition))];
      const wanted = used.slice(0, 1);
      const { records } = await readAll(log, { partitions: wanted });
      expect(records.map((r) => key(r.position)).sort()).toEqual(
        all
          .filter((r) => wanted.includes(r.position.partition))
          .map((r) => key(r.position))
          .sort(),
      );
    });

    it('refuses a batchSize that is not a whole number ≥ 1 with INVALID_OPTION (code), before reading anything', async () => {
      await log.append(events(6, 3));
      for (const batchSize of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number]) {
        await refusedRead(log, { batchSize }, 'INVALID_OPTION', ['batchSize']);
        await refusedRead(log, { batchSize, from: 'latest', follow: true }, 'INVALID_OPTION', ['batchSize']);
      }
      const { records, batches } = await readAll(log, { batchSize: 1 });
      expect(records).toHaveLength(6);
      for (const batch of batches) expect(batch.records.length).toBeLessThanOrEqual(1);
    });

    it('refuses an offset in from.after / from.at that is not a decimal string without sign, point or leading zero (INVALID_OPTION)', async () => {
      await log.append(events(12, 4));
      const [partition] = (await readAll(log)).records.map((r) => r.position.partition);
      const offsets: unknown[] = ['abc', '-1', '1.5', '', '01', ' 1', '1e3', '0x10', 5, null];
      for (const offset of offsets) {
        for (const kind of ['after', 'at'] as const) {
          const from = (
            kind === 'after' ? { after: { [partition as string]: offset } } : { at: { [partition as string]: offset } }
          ) as ReadOptions['from'];
          await refusedRead(log, { from }, 'INVALID_OPTION', [`from.${kind}`, JSON.stringify(partition)]);
        }
      }
      // Entries of partitions the read does not cover are checked as well.
      const partitions = ids(await log.partitions());
      const other = partitions.find((p) => p !== partition);
      if (other !== undefined) {
        await refusedRead(log, { from: { after: { [other]: 'x' } }, partitions: [partition as string] }, 'INVALID_OPTION', [
          JSON.stringify(other),
        ]);
      }
      // Canonical offsets are taken: '0' reads what lies after offset 0 (everything after the first
      // record where offsets count from 0; everything where they start higher, as Kinesis's do).
      const all = (await readAll(log, { partitions: [partition as string] })).records;
      const { records } = await readAll(log, { from: { after: { [partition as string]: '0' } }, partitions: [partition as string] });
      const expected = all.filter((r) => compareOffsets(r.position.offset, '0') > 0);
      expect(records.map((r) => plain(r.position))).toEqual(expected.map((r) => plain(r.position)));
    });

    it('refuses a from that is none of its forms, or a time that is not one, with INVALID_OPTION', async () => {
      const bad: unknown[] = ['newest', 7, null, {}, { after: null }, { at: ['1'] }, { time: 'yesterday' }, { time: Number.NaN }];
      for (const from of bad) await refusedRead(log, { from: from as ReadOptions['from'] }, 'INVALID_OPTION', ['from']);
    });

    it('refuses partitions the log does not have with UNKNOWN_PARTITION naming the id, even among known ones', async () => {
      await log.append(events(8, 4));
      const known = ids(await log.partitions());
      const first = known[0] as string;
      const unknown = [`0${first}`, '', ` ${first}`, `${first} `, '99', '-1', 'no-such-partition'].filter((id) => !known.includes(id));
      expect(unknown.length).toBeGreaterThan(4);
      for (const id of unknown) {
        await refusedRead(log, { partitions: [first, id] }, 'UNKNOWN_PARTITION', [JSON.stringify(id), 'partitions']);
        await refusedRead(log, { partitions: [id], follow: true }, 'UNKNOWN_PARTITION', [JSON.stringify(id)]);
      }
      await refusedRead(log, { partitions: [Number(first) as unknown as string] }, 'UNKNOWN_PARTITION', ['partitions']);
    });

    it('reads a partition listed twice in partitions once', async () => {
      await log.append(events(40, 10));
      const known = ids(await log.partitions());
      const all = (await readAll(log)).records;
      const used = [...new Set(all.map((r) => r.position.partition))];
      const [p, q] = used as [string, string | undefined];
      const once = (await readAll(log, { partitions: [p] })).records;
      expect(once.length).toBeGreaterThan(0);
      const twice = (await readAll(log, { partitions: [p, p] })).records;
      expect(twice.map((r) => key(r.position))).toEqual(once.map((r) => key(r.position)));
      const wanted = q === undefined ? [p, p] : [p, q, p, q];
      const { records } = await readAll(log, { partitions: wanted });
      const expected = all.filter((r) => wanted.includes(r.position.partition)).map((r) => key(r.position));
      expect(records.map((r) => key(r.position)).sort()).toEqual(expected.sort());
      const everyTwice = (await readAll(log, { partitions: [...known, ...known] })).records;
      expect(everyTwice.map((r) => key(r.position)).sort()).toEqual(all.map((r) => key(r.position)).sort());
    });

    it('refuses a call holding something that is not an envelope with a ValidationError (index, field) and writes nothing of it', async () => {
      const good = created('thing-0', 0);
      const later = created('thing-1', 0);
      const cases: [unknown, string[]][] = [
        [{ ...created('thing-2', 0), subject: undefined }, ['subject']],
        [{ ...created('thing-2', 0), id: '' }, ['id']],
        [{ ...created('thing-2', 0), type: 42 }, ['type']],
        [{ data: {} }, ['id', 'subject', 'type']],
        [null, ['']],
        ['not an envelope', ['']],
      ];
      for (const [bad, paths] of cases) {
        const error = await rejectionOf(() => log.append([good, bad as Envelope, later]));
        expect(error, preview(bad)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code).toBe('VALIDATION_FAILED');
        expect((error as ValidationError).message).toContain('at index 1');
        expect((error as ValidationError).issues.map((i) => i.path)).toEqual(paths);
        expect((await readAll(log)).records, 'nothing of the refused call is stored').toEqual([]);
      }
      // Nothing of those calls counts: the good events append as new ones.
      const positions = await log.append([good, later]);
      const { records } = await readAll(log);
      expect(records.map((r) => eventOf(r).id).sort()).toEqual([good.id, later.id].sort());
      expect(records.map((r) => key(r.position)).sort()).toEqual(positions.map(key).sort());
    });

    it('stores a copy of each event as JSON: changing the appended object later changes nothing, a Date in data reads back as ISO text', async () => {
      const at = new Date('2024-05-06T07:08:09.010Z');
      const event = { ...created('thing-0', 0), data: { id: 'thing-0', seq: 0, at, tags: ['a'] } };
      const snapshot = JSON.parse(JSON.stringify(event)) as unknown;
      const [position] = await log.append([event]);
      event.data.seq = 99;
      event.data.tags.push('b');
      at.setTime(0);
      (event as { subject: string }).subject = 'thing-changed';
      const { records } = await readAll(log);
      expect(records).toHaveLength(1);
      const record = records[0] as LogRecord;
      expect(plain(record.position)).toEqual(plain(position as Position));
      expect(record.event).not.toBe(event);
      expect(record.event).toEqual(snapshot);
      expect((record.event as Envelope<string, { at: unknown }>).data.at).toBe('2024-05-06T07:08:09.010Z');
      // A reader that changes what it read changes nothing for the next reader.
      (record.event as Envelope<string, { seq: number }>).data.seq = 42;
      const again = (await readAll(log)).records[0] as LogRecord;
      expect(again.event).toEqual(snapshot);
    });

    it('the same id twice in one call is stored once and both get its position', async () => {
      const [a, b] = [created('thing-0', 0), created('thing-1', 0)];
      const [first, second] = await log.append([a, a]);
      expect(plain(second as Position)).toEqual(plain(first as Position));
      const mixed = await log.append([b, { ...a }, b, a]);
      expect(mixed.map(plain)).toEqual([mixed[0], first, mixed[0], first].map((p) => plain(p as Position)));
      expect(key(mixed[0] as Position)).not.toBe(key(first as Position));
      const { records } = await readAll(log);
      expect(records).toHaveLength(2);
      const byId = new Map(records.map((r) => [eventOf(r).id, plain(r.position)]));
      expect(byId.get(a.id)).toEqual(plain(first as Position));
      expect(byId.get(b.id)).toEqual(plain(mixed[0] as Position));
      expect(await readEnds(log, ids(await log.partitions()), {})).toEqual(lastOffsets(records));
    });

    it('many concurrent append calls: every call gets its own positions, nothing lost or mixed up', async () => {
      const calls = Array.from({ length: 40 }, (_, c) => Array.from({ length: 5 }, (_, i) => created(`thing-${(c + i) % 7}`, c * 5 + i)));
      const results = await Promise.all(calls.map((batch) => log.append(batch)));
      const { records } = await readAll(log);
      expect(records).toHaveLength(200);
      const byId = new Map(records.map((r) => [eventOf(r).id, plain(r.position)]));
      calls.forEach((batch, c) => {
        expect(results[c]).toHaveLength(5);
        batch.forEach((event, i) => {
          expect(plain(results[c]?.[i] as Position)).toEqual(byId.get(event.id));
        });
      });
      expect(new Set(results.flat().map(key)).size).toBe(200);
    });

    it('an id appended again through the same log is stored once and gets the same position back', async () => {
      const [first, second, third] = [created('thing-0', 0), created('thing-1', 0), created('thing-0', 1)];
      const positions = await log.append([first as Envelope, second as Envelope]);
      const again = await log.append([JSON.parse(JSON.stringify(first)) as Envelope]);
      expect(plain(again[0] as Position)).toEqual(plain(positions[0] as Position));
      const mixed = await log.append([third as Envelope, { ...(second as Envelope) }]);
      expect(plain(mixed[1] as Position)).toEqual(plain(positions[1] as Position));
      const { records } = await readAll(log);
      expect(records.map((r) => eventOf(r).id).sort()).toEqual([first, second, third].map((e) => e?.id).sort());
      const thirdRecord = records.find((r) => eventOf(r).id === third?.id);
      expect(plain(thirdRecord?.position as Position)).toEqual(plain(mixed[0] as Position));
    });

    it(`appends a batch of ${largeBatch.toLocaleString('en-US')} events in one call`, async () => {
      const batch = events(largeBatch, 100);
      const positions = await log.append(batch);
      expect(positions).toHaveLength(largeBatch);
      expect(new Set(positions.map(key)).size).toBe(largeBatch);
      const { records } = await readAll(log, { batchSize: 1000 });
      expect(records).toHaveLength(largeBatch);
      const byId = new Map(records.map((r) => [eventOf(r).id, key(r.position)]));
      batch.forEach((event, i) => {
        if (byId.get(event.id) !== key(positions[i] as Position)) {
          expect.fail(`event ${i}: append said ${key(positions[i] as Position)}, read back ${byId.get(event.id)}`);
        }
      });
      const lastSeq = new Map<string, number>();
      for (const record of records) {
        const event = eventOf(record);
        const previous = lastSeq.get(event.subject) ?? -1;
        if (event.data.seq !== previous + 1) expect.fail(`${event.subject}: seq ${event.data.seq} after ${previous}`);
        lastSeq.set(event.subject, event.data.seq);
      }
    });

    it('refuses an oversize event with EventTooLargeError and writes nothing of the call; an event of exactly the limit fits', async () => {
      const limit = log.maxEventBytes;
      const small = created('thing-0', 0);
      const big = padded('thing-1', 'x'.repeat(limit));
      const error = await rejectionOf(() => log.append([small, big, created('thing-2', 0)]));
      expect(error).toBeInstanceOf(EventTooLargeError);
      expect((error as EventTooLargeError).code).toBe('EVENT_TOO_LARGE');
      expect((error as EventTooLargeError).limit).toBe(limit);
      expect((error as EventTooLargeError).size).toBe(envelopeBytes(big));
      expect((await readAll(log)).records).toEqual([]);

      const base = padded('thing-3', '');
      const exact = padded('thing-3', 'y'.repeat(limit - envelopeBytes(base)));
      expect(envelopeBytes(exact)).toBe(limit);
      const [position] = await log.append([exact]);
      const { records } = await readAll(log);
      expect(records.map((r) => plain(r.position))).toEqual([plain(position as Position)]);
    });

    it("after close every call rejects with ClosedError (code 'CLOSED'); close again is harmless", async () => {
      await log.append(events(3, 3));
      await log.close();
      const refusals = [
        await rejectionOf(() => log.append([created('thing-0', 9)])),
        await rejectionOf(async () => {
          for await (const _ of log.read()) {
            // any batch at all would be a failure
          }
        }),
        await rejectionOf(() => log.partitions()),
      ];
      for (const refusal of refusals) {
        expect(refusal).toBeInstanceOf(ClosedError);
        expect((refusal as ClosedError).code).toBe('CLOSED');
      }
      await log.close();
    });

    it('follow mode delivers a later append and ends when its signal aborts', async () => {
      await log.append(events(3, 3));
      const controller = new AbortController();
      const seen: LogRecord[] = [];
      let failure: unknown;
      let ended = false;
      const reading = (async () => {
        for await (const batch of log.read({ from: 'earliest', follow: true, signal: controller.signal })) seen.push(...batch.records);
      })().then(
        () => {
          ended = true;
        },
        (error) => {
          failure = error;
        },
      );
      await until(
        () => seen.length === 3,
        'the 3 records already there',
        timeoutMs,
        () => failure,
      );
      const later = created('thing-9', 0);
      const [position] = await log.append([later]);
      await until(
        () => seen.length === 4,
        'the later append to be delivered',
        timeoutMs,
        () => failure,
      );
      expect(eventOf(seen[3] as LogRecord).id).toBe(later.id);
      expect(plain((seen[3] as LogRecord).position)).toEqual(plain(position as Position));
      expect(ended).toBe(false);
      controller.abort();
      await until(
        () => ended,
        'the following read to end after abort',
        timeoutMs,
        () => failure,
      );
      await reading;
      expect(seen).toHaveLength(4);
    });

    it('a follow read that is waiting for records ends when its signal aborts', async () => {
      const controller = new AbortController();
      let ended = false;
      let failure: unknown;
      const reading = (async () => {
        for await (const _ of log.read({ from: 'latest', follow: true, signal: controller.signal })) {
          // nothing is appended
        }
      })().then(
        () => {
          ended = true;
        },
        (error) => {
          failure = error;
        },
      );
      await new Promise((resolve) => setImmediate(resolve));
      controller.abort();
      await until(
        () => ended,
        'the following read to end after abort',
        timeoutMs,
        () => failure,
      );
      await reading;
    });

    if (options.reshards) {
      /** Splits `partition`; resolves with the ids of its two children. */
      async function split(partition: string): Promise<string[]> {
        if (!subject.reshard) throw new Error('the factory of a log with { reshards: true } must return `reshard`');
        const before = new Set(ids(await log.partitions()));
        await subject.reshard.split(partition);
        const children = (await log.partitions()).filter((p) => !before.has(p.id));
        expect(
          children.map((p) => [p.parents, p.closed]),
          `the children of ${partition}`,
        ).toEqual([
          [[partition], false],
          [[partition], false],
        ]);
        return ids(children);
      }

      it('a split closes the parent and opens two children that list it; a read of the parent ends with ended, following or not', async () => {
        const appended = await log.append(events(40, 10));
        const parent = (appended[0] as Position).partition;
        const ofParent = appended.filter((p) => p.partition === parent).map(key);
        const children = await split(parent);
        const listed = await log.partitions();
        expect(listed.find((p) => p.id === parent)?.closed).toBe(true);
        for (const follow of [false, true]) {
          const batches: ReadBatch[] = [];
          for await (const batch of log.read({ from: 'earliest', partitions: [parent], follow, batchSize: 3 })) batches.push(batch);
          checkBatches(batches, 3);
          expect(
            batches.flatMap((b) => b.records).map((r) => key(r.position)),
            `follow: ${follow}`,
          ).toEqual(ofParent);
          expect(batches[batches.length - 1]?.ended, `follow: ${follow}: the last batch ends the partition`).toBe(true);
        }
        const { batches } = await readAll(log);
        expect(batches.filter((b) => b.ended).map((b) => b.partition)).toEqual([parent]);
        const later = await log.append(events(40, 10, 100));
        for (const position of later) expect(position.partition).not.toBe(parent);
        for (const position of later.filter((_, i) => appended[i]?.partition === parent)) expect(children).toContain(position.partition);
        // A partition that was read to its end and its children: a lineage reader starts with the children.
        const resumed = await readAll(log, { from: { after: { [parent]: PARTITION_END } }, partitions: [parent, ...children] });
        expect(resumed.records.map((r) => key(r.position)).sort()).toEqual(
          later
            .filter((p) => children.includes(p.partition))
            .map(key)
            .sort(),
        );
      });

      it('readLineage reads every record once, parents to their end before children, each subject in order, across a split and a merge made during a following read', async () => {
        const subjects = 12;
        const total = { appended: 0 };
        const append = async (count: number) => {
          const firstSeq = total.appended / subjects;
          total.appended += count;
          return log.append(events(count, subjects, firstSeq));
        };
        const first = await append(48);
        const controller = new AbortController();
        const batches: ReadBatch[] = [];
        let failure: unknown;
        const reading = (async () => {
          for await (const batch of readLineage(log, { follow: true, signal: controller.signal, batchSize: 5, discoverEveryMs: 50 })) {
            batches.push(batch);
          }
        })().catch((error: unknown) => {
          failure = error;
        });
        const readCount = () => batches.reduce((sum, b) => sum + b.records.length, 0);
        await until(
          () => readCount() === total.appended,
          'the first records',
          timeoutMs,
          () => failure,
        );
        const parent = (first[0] as Position).partition;
        const [left, right] = (await split(parent)) as [string, string];
        await append(48);
        await until(
          () => readCount() === total.appended,
          'the records after the split',
          timeoutMs,
          () => failure,
        );
        const before = new Set(ids(await log.partitions()));
        await subject.reshard?.merge(left, right);
        const merged = (await log.partitions()).filter((p) => !before.has(p.id));
        expect(merged.map((p) => [[...p.parents].sort(), p.closed])).toEqual([[[left, right].sort(), false]]);
        await append(48);
        await until(
          () => readCount() === total.appended,
          'the records after the merge',
          timeoutMs,
          () => failure,
        );
        controller.abort();
        await reading;
        expect(failure).toBeUndefined();

        checkBatches(batches);
        const records = batches.flatMap((b) => b.records);
        expect(new Set(records.map((r) => eventOf(r).id)).size, 'every record once').toBe(total.appended);
        const seqs = new Map<string, number[]>();
        for (const record of records) {
          const event = eventOf(record);
          seqs.set(event.subject, [...(seqs.get(event.subject) ?? []), event.data.seq]);
        }
        for (const [name, list] of seqs) expect(list, `order of ${name}`).toEqual(list.map((_, i) => i));
        const endedAt = (id: string) => batches.findIndex((b) => b.partition === id && b.ended);
        const firstAt = (id: string) => batches.findIndex((b) => b.partition === id);
        for (const partition of await log.partitions()) {
          for (const parentId of partition.parents) {
            expect(endedAt(parentId), `${parentId} ended`).toBeGreaterThanOrEqual(0);
            if (firstAt(partition.id) >= 0) {
              expect(firstAt(partition.id), `${partition.id} starts after its parent ${parentId} ended`).toBeGreaterThan(endedAt(parentId));
            }
          }
        }
      });
    }

    if (options.durable !== false) {
      it('keeps its records across close and reopen', async () => {
        if (!subject.reopen) throw new Error('the factory of a durable log must return `reopen` (or pass { durable: false })');
        const first = await log.append(events(20, 5));
        const before = await readAll(log);
        const heads = lastOffsets(before.records);
        await log.close();
        const reopened = await subject.reopen();
        opened.push(reopened);
        const after = await readAll(reopened);
        // Order is promised within a partition only: how partitions interleave depends on timing.
        expect(byPartition(after.records)).toEqual(byPartition(before.records));
        expect(await readEnds(reopened, ids(await reopened.partitions()), {})).toEqual(heads);
        const [next] = await reopened.append([created('thing-0', 100)]);
        const partitionHead = heads[(next as Position).partition];
        if (partitionHead !== undefined) expect(compareOffsets((next as Position).offset, partitionHead)).toBe(1);
        expect(first).toHaveLength(20);
      });
    }
  });
}
