import { type Consumer, createConsumer } from '@riverlog/consumer';
import {
  type CheckpointStore,
  compareOffsets,
  type DeadLetter,
  type DeadLetterSink,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  ignore,
  type Position,
  type PositionMap,
  t,
} from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from './until.js';

/** What a consumer contract factory hands the suite: a fresh, empty log and checkpoint store. */
export interface ConsumerUnderTest {
  /** A new, empty log, with at least two partitions. The suite closes it after each test. */
  readonly log: EventLog;
  /** An empty checkpoint store (it may live in the log's storage). The suite closes it before the log. */
  readonly checkpoints: CheckpointStore;
  /** Removes what the test left behind; runs after the log and the store are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface ConsumerContractOptions {
  /** How long to wait for something that must happen (ms). Default 10,000. */
  readonly timeoutMs?: number;
  /** Events in the larger tests. Default 300. */
  readonly events?: number;
}

const source = 'riverlog/consumer-contract';
const Item = defineEvent('contract/item', { data: { id: t.string, seq: t.number } });
const Failing = defineEvent('contract/failing', { data: { id: t.string } });
const Skipped = defineEvent('contract/skipped', { data: { id: t.string } });
const catalog = defineCatalog([Item, Failing, Skipped]);

const item = (subject: string, seq: number) => catalog.create('contract/item', subject, { id: subject, seq }, { source });
const failing = (subject: string) => catalog.create('contract/failing', subject, { id: subject }, { source });
const skipped = (subject: string) => catalog.create('contract/skipped', subject, { id: subject }, { source });
/** A payload the catalog refuses: `seq` must be a number. */
const schemaInvalid = (subject: string): Envelope => ({ ...item(subject, 0), data: { id: subject, seq: 'first' } });
const unknownType = (subject: string): Envelope => ({
  ...item(subject, 0),
  type: 'contract/unheard-of',
  dataschema: 'contract/unheard-of@1',
});

interface Handled {
  readonly id: string;
  readonly subject: string;
  readonly seq: number;
  readonly position: Position;
}

const key = (position: Position) => `${position.partition}/${position.offset}`;

/** `count` items over `subjects` subjects, seq counting per subject from `firstSeq`. */
function items(count: number, subjects: number, firstSeq = 0): Envelope[] {
  return Array.from({ length: count }, (_, i) => item(`subject-${i % subjects}`, firstSeq + Math.floor(i / subjects)));
}

/** Appends in batches of 50, returning each event's position. */
async function appendAll(log: EventLog, events: readonly Envelope[]): Promise<Position[]> {
  const positions: Position[] = [];
  for (let i = 0; i < events.length; i += 50) positions.push(...(await log.append(events.slice(i, i + 50))));
  return positions;
}

/**
 * Everything a journal of saves and dead letters must show: no checkpoint
 * passed a record that had not finished at the time of the save.
 */
function guardCheckpoints(
  store: CheckpointStore,
  appended: () => readonly Position[],
  finished: ReadonlySet<string>,
): CheckpointStore & { violations: string[]; saves: PositionMap[] } {
  const violations: string[] = [];
  const saves: PositionMap[] = [];
  return {
    violations,
    saves,
    load: (group) => store.load(group),
    async save(group, positions) {
      for (const [partition, offset] of Object.entries(positions)) {
        for (const position of appended()) {
          if (position.partition === partition && compareOffsets(position.offset, offset) <= 0 && !finished.has(key(position))) {
            violations.push(`checkpoint ${partition}/${offset} written before ${key(position)} finished`);
          }
        }
      }
      saves.push(positions);
      await store.save(group, positions);
    },
    close: () => store.close(),
  };
}

/**
 * The behaviour every consumer must show on a backend (a log and a
 * checkpoint store), as a vitest suite: at-least-once delivery, checkpoints
 * only past finished work, order per partition, poison records in the dead
 * letter while the partition moves on, and a `stop()` that loses nothing.
 * Call it with a factory that makes a fresh, empty log and store per test.
 *
 * @example
 * import { memoryCheckpointStore, memoryLog } from '@riverlog/core';
 * import { describeConsumerContract } from '@riverlog/testing';
 *
 * describeConsumerContract('memory', () => ({ log: memoryLog(), checkpoints: memoryCheckpointStore() }));
 */
export function describeConsumerContract(
  name: string,
  factory: () => ConsumerUnderTest | Promise<ConsumerUnderTest>,
  options: ConsumerContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const count = options.events ?? 300;

  describe(`Consumer contract: ${name}`, () => {
    let subject: ConsumerUnderTest;
    let log: EventLog;
    const consumers: Consumer[] = [];

    beforeEach(async () => {
      subject = await factory();
      log = subject.log;
      expect((await log.partitions()).length, 'the contract needs a log with at least two partitions').toBeGreaterThanOrEqual(2);
    });

    afterEach(async () => {
      await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.stop()));
      await subject.checkpoints.close();
      await log.close();
      await subject.cleanup?.();
    });

    function recordingSink(journal?: string[]): DeadLetterSink & { letters: DeadLetter[] } {
      const letters: DeadLetter[] = [];
      return {
        letters,
        async send(batch) {
          for (const letter of batch) journal?.push(`dead-letter ${key(letter.record.position)}`);
          letters.push(...batch);
        },
      };
    }

    function start(
      handle: (handled: Handled, attempt: number) => Promise<void> | void,
      overrides: { checkpoints?: CheckpointStore; deadLetter?: DeadLetterSink; checkpointEvery?: { records?: number; ms?: number } } = {},
    ): { consumer: Consumer; handled: Handled[] } {
      const handled: Handled[] = [];
      const consumer = createConsumer({
        log,
        catalog,
        group: 'contract',
        checkpoints: overrides.checkpoints ?? subject.checkpoints,
        deadLetter: overrides.deadLetter ?? recordingSink(),
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
        checkpointEvery: overrides.checkpointEvery ?? { records: 10, ms: 20 },
        handlers: {
          'contract/item': async (event, context) => {
            const entry = { id: event.id, subject: event.subject, seq: event.data.seq, position: context.position };
            await handle(entry, context.attempt);
            handled.push(entry);
          },
          'contract/failing': (event) => {
            throw new Error(`contract handler refuses ${event.subject}`);
          },
          'contract/skipped': ignore,
        },
      });
      consumers.push(consumer);
      return { consumer, handled };
    }

    it('handles every event at least once, in order per partition and per subject, and checkpoints the heads', async () => {
      const first = items(count, 13);
      const ids = new Set(first.map((event) => event.id));
      await appendAll(log, first);
      const { consumer, handled } = start(() => {});
      await consumer.start();
      // Appended while it runs: followed, not only what was there at start.
      const later = items(60, 13, count);
      for (const event of later) ids.add(event.id);
      await appendAll(log, later);
      await consumer.drain({ timeoutMs });

      expect(new Set(handled.map((h) => h.id))).toEqual(ids);
      const byPartition = new Map<string, string[]>();
      const bySubject = new Map<string, number[]>();
      for (const h of handled) {
        byPartition.set(h.position.partition, [...(byPartition.get(h.position.partition) ?? []), h.position.offset]);
        bySubject.set(h.subject, [...(bySubject.get(h.subject) ?? []), h.seq]);
      }
      for (const [partition, offsets] of byPartition) {
        for (let i = 1; i < offsets.length; i++) {
          expect(compareOffsets(offsets[i - 1] as string, offsets[i] as string), `partition ${partition} handled in offset order`).toBe(-1);
        }
      }
      for (const [name, seqs] of bySubject) expect(seqs, `subject ${name} in order`).toEqual([...seqs].sort((a, b) => a - b));
      expect(await subject.checkpoints.load('contract')).toEqual(await log.heads());
      expect(Object.values(await consumer.lag()).every((lag) => lag === 0)).toBe(true);
    });

    it('never checkpoints past a record whose handler has not finished; other partitions go on meanwhile', async () => {
      const finished = new Set<string>();
      let appended: Position[] = [];
      const checkpoints = guardCheckpoints(subject.checkpoints, () => appended, finished);
      const events = items(40, 8);
      appended = await appendAll(log, events);
      // Block on the fifth event of the first partition.
      const blockedPartition = (appended[0] as Position).partition;
      const inBlocked = appended.filter((p) => p.partition === blockedPartition);
      const blocked = inBlocked[4] as Position;
      const before = inBlocked[3] as Position;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered = false;
      const { consumer } = start(
        async (h) => {
          if (key(h.position) === key(blocked)) {
            entered = true;
            await gate;
          }
          finished.add(key(h.position));
        },
        { checkpoints, checkpointEvery: { records: 1 } },
      );
      await consumer.start();
      let heads: PositionMap = {};
      try {
        await until(() => entered, 'the blocking handler to start', timeoutMs);
        heads = await log.heads();
        const others = Object.keys(heads).filter((partition) => partition !== blockedPartition);
        expect(others.length).toBeGreaterThan(0);
        await until(
          async () => {
            if (checkpoints.violations.length > 0) return true;
            const stored = await subject.checkpoints.load('contract');
            return stored[blockedPartition] === before.offset && others.every((partition) => stored[partition] === heads[partition]);
          },
          `partition ${blockedPartition} checkpointed just before the blocked record, the others at their heads`,
          timeoutMs,
        );
        expect(checkpoints.violations).toEqual([]);
      } finally {
        release();
      }
      await consumer.drain({ timeoutMs });
      expect(await subject.checkpoints.load('contract')).toEqual(heads);
      expect(checkpoints.violations).toEqual([]);
    });

    it('sends poison records to the dead letter with their reasons, before the checkpoint passes them, and moves on', async () => {
      const journal: string[] = [];
      const finished = new Set<string>();
      let appended: Position[] = [];
      const guarded = guardCheckpoints(subject.checkpoints, () => appended, finished);
      const checkpoints: CheckpointStore = {
        ...guarded,
        async save(group, positions) {
          journal.push(...Object.entries(positions).map(([partition, offset]) => `checkpoint ${partition}/${offset}`));
          await guarded.save(group, positions);
        },
      };
      const deadLetter = recordingSink(journal);
      const poisoned = [
        item('poisoned', 1),
        schemaInvalid('poisoned'),
        unknownType('poisoned'),
        failing('poisoned'),
        skipped('poisoned'),
        item('poisoned', 2),
      ];
      appended = await log.append(poisoned);
      const [, invalidAt, unknownAt, failingAt, skippedAt] = appended as [Position, Position, Position, Position, Position, Position];
      // Records that end in the dead letter or are ignored count as finished once they are done.
      for (const position of [invalidAt, unknownAt, failingAt, skippedAt]) finished.add(key(position));
      const { consumer, handled } = start(
        (h) => {
          finished.add(key(h.position));
        },
        { checkpoints, deadLetter, checkpointEvery: { records: 1 } },
      );
      await consumer.start();
      await consumer.drain({ timeoutMs });

      expect(handled.map((h) => h.seq)).toEqual([1, 2]);
      const letters = deadLetter.letters.map((l) => ({
        code: l.code,
        position: key(l.record.position),
        attempts: l.attempts,
        group: l.group,
      }));
      expect(letters).toEqual([
        { code: 'DECODE_FAILED', position: key(invalidAt), attempts: 0, group: 'contract' },
        { code: 'UNKNOWN_EVENT_TYPE', position: key(unknownAt), attempts: 0, group: 'contract' },
        { code: 'HANDLER_FAILED', position: key(failingAt), attempts: 3, group: 'contract' },
      ]);
      const [invalid, unknown, failed] = deadLetter.letters as [DeadLetter, DeadLetter, DeadLetter];
      expect(invalid.reason).toContain('data.seq: expected number, got "first"');
      expect(invalid.reason).toContain(`partition ${invalidAt.partition}, offset ${invalidAt.offset}`);
      expect(unknown.reason).toContain('unknown event type "contract/unheard-of"');
      expect(failed.reason).toContain('contract handler refuses poisoned');
      expect((invalid.record.event as Envelope).data).toEqual({ id: 'poisoned', seq: 'first' });

      for (const position of [invalidAt, unknownAt, failingAt]) {
        const sent = journal.indexOf(`dead-letter ${key(position)}`);
        const passed = journal.findIndex((entry) => {
          const [, at] = entry.split(' ');
          const [partition, offset] = (at as string).split('/');
          return (
            entry.startsWith('checkpoint') && partition === position.partition && compareOffsets(offset as string, position.offset) >= 0
          );
        });
        expect(sent, `dead letter of ${key(position)} sent`).toBeGreaterThanOrEqual(0);
        expect(sent, `dead letter of ${key(position)} before the checkpoint passes it`).toBeLessThan(passed);
      }
      expect(guarded.violations).toEqual([]);
      expect((await subject.checkpoints.load('contract'))[invalidAt.partition]).toBe((appended[5] as Position).offset);
    });

    it('retries a failing handler in place: later records of its partition wait for it', async () => {
      const appended = await log.append([item('flaky', 1), item('flaky', 2), item('flaky', 3)]);
      const attempts: string[] = [];
      const { consumer, handled } = start((h, attempt) => {
        attempts.push(`${h.seq}#${attempt}`);
        if (h.seq === 2 && attempt < 3) throw new Error('transient');
      });
      await consumer.start();
      await consumer.drain({ timeoutMs });
      expect(attempts).toEqual(['1#1', '2#1', '2#2', '2#3', '3#1']);
      expect(handled.map((h) => key(h.position))).toEqual(appended.map(key));
    });

    it('stop() mid-stream loses nothing: it finishes the in-flight record, checkpoints, and a restart covers the rest', async () => {
      const events = items(count, 11);
      await appendAll(log, events);
      const stopAt = Math.floor(count / 3);
      let stopping: Promise<void> | undefined;
      let calls = 0;
      const { consumer: first, handled: firstHandled } = start(
        async () => {
          // Slow enough that the stop lands mid-stream; stop() is called from inside the handler, without waiting for it.
          await new Promise((resolve) => setImmediate(resolve));
          if (++calls === stopAt) stopping = first.stop();
        },
        { checkpointEvery: { records: 1_000_000, ms: 3_600_000 } },
      );
      await first.start();
      await until(() => stopping !== undefined, `${stopAt} events handled`, timeoutMs);
      await stopping;
      expect(firstHandled.length, 'stopped mid-stream').toBeLessThan(count);

      // Only stop() wrote checkpoints here: they sit exactly at the last finished record of each partition.
      const lastFinished: Record<string, string> = {};
      for (const h of firstHandled) {
        const current = lastFinished[h.position.partition];
        if (current === undefined || compareOffsets(current, h.position.offset) < 0) lastFinished[h.position.partition] = h.position.offset;
      }
      const stored = await subject.checkpoints.load('contract');
      expect(stored).toEqual(lastFinished);

      const more = items(30, 11, count);
      await appendAll(log, more);
      const { consumer: second, handled: secondHandled } = start(() => {});
      await second.start();
      await second.drain({ timeoutMs });
      const all = new Set([...firstHandled, ...secondHandled].map((h) => h.id));
      expect(all).toEqual(new Set([...events, ...more].map((event) => event.id)));
      for (const h of secondHandled) {
        const checkpoint = stored[h.position.partition];
        if (checkpoint !== undefined) {
          expect(compareOffsets(h.position.offset, checkpoint), `${key(h.position)} was past the checkpoint`).toBe(1);
        }
      }
    });
  });
}
