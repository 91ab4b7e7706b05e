import { type Consumer, createConsumer } from '@riverlog/consumer';
import {
  type CheckpointStore,
  compareOffsets,
  createEvent,
  type DeadLetter,
  type DeadLetterSink,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  ignore,
  type LeaseStore,
  PARTITION_END,
  type PartitionInfo,
  type Position,
  type PositionMap,
  readEnds,
  t,
} from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from './until.js';

/** What a consumer contract factory hands the suite: a fresh, empty log and, unless the log keeps the group's checkpoint itself, a checkpoint store. */
export interface ConsumerUnderTest {
  /** A new, empty log, with at least two partitions. The suite closes it after each test. */
  readonly log: EventLog;
  /**
   * An empty checkpoint store (it may live in the log's storage); the suite
   * closes it before the log. Leave it out for a log that runs consumer
   * groups and keeps their checkpoint itself (Kafka's group offsets): the
   * suite then checks checkpoints through restarts, and skips what only a
   * store shows (each such test says so and passes).
   */
  readonly checkpoints?: CheckpointStore;
  /** Removes what the test left behind; runs after the log and the store are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface ConsumerContractOptions {
  /** How long to wait for something that must happen (ms). Default 10,000. */
  readonly timeoutMs?: number;
  /** Events in the larger tests. Default 300. */
  readonly events?: number;
  /** A fresh lease store (it may live in the log's storage), to check fencing: a process whose partition was taken over can no longer move its checkpoint. */
  readonly leases?: (log: EventLog) => LeaseStore | Promise<LeaseStore>;
}

/** A log whose partitions can be split and merged (the memory log; Kinesis shards): the suite then checks lineage. */
interface Reshardable {
  split(partition: string): Promise<PartitionInfo[]>;
  merge(a: string, b: string): Promise<PartitionInfo>;
}
const reshardable = (log: EventLog): log is EventLog & Reshardable =>
  typeof (log as Partial<Reshardable>).split === 'function' && typeof (log as Partial<Reshardable>).merge === 'function';

const source = 'riverlog/consumer-contract';
const Item = defineEvent('contract/item', { data: { id: t.string, seq: t.number } });
const Failing = defineEvent('contract/failing', { data: { id: t.string } });
const Skipped = defineEvent('contract/skipped', { data: { id: t.string } });
const catalog = defineCatalog([Item, Failing, Skipped]);

const item = (subject: string, seq: number) => createEvent(catalog, 'contract/item', subject, { id: subject, seq }, { source });
const failing = (subject: string) => createEvent(catalog, 'contract/failing', subject, { id: subject }, { source });
const skipped = (subject: string) => createEvent(catalog, 'contract/skipped', subject, { id: subject }, { source });
/** A payload the catalog refuses: `seq` must be a number. */
const schemaInvalid = (subject: string): Envelope => ({ ...item(subject, 0), data: { id: subject, seq: 'first' } });
/** Written by a newer catalog than the consumer's. */
const newerVersion = (subject: string): Envelope => ({ ...item(subject, 0), dataschema: catalog.dataschema('contract/item', 7) });
const unknownType = (subject: string): Envelope => ({
  ...item(subject, 0),
  type: 'contract/unheard-of',
  dataschema: 'urn:riverlog:contract/unheard-of/v1',
});

interface Handled {
  readonly id: string;
  readonly subject: string;
  readonly seq: number;
  readonly position: Position;
}

const key = (position: Position) => `${position.partition}/${position.offset}`;

/** `count` items over `subjects` subjects, seq counting per subject from `firstSeq`. */
function items(count: number, subjects: number, firstSeq = 0, prefix = 'subject'): Envelope[] {
  return Array.from({ length: count }, (_, i) => item(`${prefix}-${i % subjects}`, firstSeq + Math.floor(i / subjects)));
}

/** Appends in batches of 50, returning each event's position. */
async function appendAll(log: EventLog, events: readonly Envelope[]): Promise<Position[]> {
  const positions: Position[] = [];
  for (let i = 0; i < events.length; i += 50) positions.push(...(await log.append(events.slice(i, i + 50))));
  return positions;
}

/** Where each partition of the log ends now. */
async function ends(log: EventLog): Promise<PositionMap> {
  return readEnds(
    log,
    (await log.partitions()).map((partition) => partition.id),
    {},
  );
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
    async save(group, positions, fence) {
      for (const [partition, offset] of Object.entries(positions)) {
        for (const position of appended()) {
          if (
            position.partition === partition &&
            (offset === PARTITION_END || compareOffsets(position.offset, offset) <= 0) &&
            !finished.has(key(position))
          ) {
            violations.push(`checkpoint ${partition}/${offset} written before ${key(position)} finished`);
          }
        }
      }
      saves.push(positions);
      await store.save(group, positions, fence);
    },
    close: () => store.close(),
  };
}

/**
 * The behaviour every consumer must show on a backend (a log and a
 * checkpoint store, or a log that keeps its groups' checkpoints itself), as
 * a vitest suite: at-least-once delivery, checkpoints only past finished
 * work, order per partition and per subject, poison records in the dead
 * letter while the partition moves on, an event the catalog cannot read yet
 * stopping its partition, `caughtUp()` covering what the log held when
 * called, a `stop()` that loses nothing; with `options.leases`, fencing (a
 * process whose partition was taken over cannot move its checkpoint); on a
 * log that splits and merges partitions, lineage (parents before children,
 * nothing missed). Call it with a factory that makes a fresh, empty log and
 * store per test.
 *
 * @example
 * import { memoryCheckpointStore, memoryLeaseStore, memoryLog } from '@riverlog/core';
 * import { describeConsumerContract } from '@riverlog/testing';
 *
 * describeConsumerContract('memory', () => ({ log: memoryLog(), checkpoints: memoryCheckpointStore() }), {
 *   leases: () => memoryLeaseStore(),
 * });
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
      await subject.checkpoints?.close();
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
      overrides: {
        checkpoints?: CheckpointStore;
        deadLetters?: DeadLetterSink;
        checkpointEvery?: { records?: number; ms?: number };
        leases?: { store: LeaseStore; ttlMs?: number; owner?: string };
        errors?: string[];
      } = {},
    ): { consumer: Consumer; handled: Handled[] } {
      const handled: Handled[] = [];
      const checkpoints = overrides.checkpoints ?? subject.checkpoints;
      const consumer = createConsumer({
        log,
        catalog,
        group: 'contract',
        ...(checkpoints ? { checkpoints } : {}),
        ...(overrides.leases ? { leases: overrides.leases } : {}),
        deadLetters: overrides.deadLetters ?? recordingSink(),
        retry: { attempts: 3, initialMs: 1, maxMs: 5 },
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
        hooks: {
          onError: (error, info) => overrides.errors?.push(`${info.stage} ${info.partition}: ${(error as { code?: string }).code}`),
          onPartitionStop: ({ partition, reason }) => overrides.errors?.push(`stop ${partition}: ${reason}`),
        },
      });
      consumers.push(consumer);
      return { consumer, handled };
    }

    function expectOrdered(handled: readonly Handled[]): void {
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
    }

    it('handles every event at least once, in order per partition and per subject; caughtUp() covers what the log held; checkpoints at the ends', async () => {
      const first = items(count, 13);
      const ids = new Set(first.map((event) => event.id));
      await appendAll(log, first);
      const { consumer, handled } = start(() => {});
      await consumer.start();
      // Appended while it runs: followed, not only what was there at start.
      const later = items(60, 13, count);
      for (const event of later) ids.add(event.id);
      await appendAll(log, later);
      await consumer.caughtUp({ timeoutMs });

      expect(new Set(handled.map((h) => h.id))).toEqual(ids);
      expectOrdered(handled);
      if (subject.checkpoints) expect(await subject.checkpoints.load('contract')).toEqual(await ends(log));
      for (const lag of Object.values(consumer.lag())) expect('records' in lag ? lag.records : lag.ms).toBe(0);
      expect(consumer.status().partitions.every((p) => p.caughtUp && p.state === 'running')).toBe(true);

      // Appended after it caught up: the next caughtUp() covers exactly those too.
      const more = items(40, 13, count + 60);
      await appendAll(log, more);
      await consumer.caughtUp({ timeoutMs });
      expect(handled.length).toBeGreaterThanOrEqual(ids.size + more.length);
      expect(new Set(handled.map((h) => h.id)).size).toBe(ids.size + more.length);
    });

    it('never checkpoints past a record whose handler has not finished; other partitions go on meanwhile (with a checkpoint store)', async () => {
      if (!subject.checkpoints) return; // the log keeps this group's checkpoint: its own suite checks its commits
      const store = subject.checkpoints;
      const finished = new Set<string>();
      let appended: Position[] = [];
      const checkpoints = guardCheckpoints(store, () => appended, finished);
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
        heads = await ends(log);
        const others = Object.keys(heads).filter((partition) => partition !== blockedPartition);
        expect(others.length).toBeGreaterThan(0);
        await until(
          async () => {
            if (checkpoints.violations.length > 0) return true;
            const stored = await store.load('contract');
            return stored[blockedPartition] === before.offset && others.every((partition) => stored[partition] === heads[partition]);
          },
          `partition ${blockedPartition} checkpointed just before the blocked record, the others at their ends`,
          timeoutMs,
        );
        expect(checkpoints.violations).toEqual([]);
      } finally {
        release();
      }
      await consumer.caughtUp({ timeoutMs });
      expect(await store.load('contract')).toEqual(heads);
      expect(checkpoints.violations).toEqual([]);
    });

    it('sends poison records to the dead letter with their reasons, before the checkpoint passes them, and moves on', async () => {
      const journal: string[] = [];
      const finished = new Set<string>();
      let appended: Position[] = [];
      const guarded = subject.checkpoints ? guardCheckpoints(subject.checkpoints, () => appended, finished) : undefined;
      const checkpoints: CheckpointStore | undefined = guarded && {
        ...guarded,
        async save(group, positions, fence) {
          journal.push(...Object.entries(positions).map(([partition, offset]) => `checkpoint ${partition}/${offset}`));
          await guarded.save(group, positions, fence);
        },
      };
      const deadLetters = recordingSink(journal);
      const poisoned = [item('poisoned', 1), unknownType('poisoned'), failing('poisoned'), skipped('poisoned'), item('poisoned', 2)];
      appended = await log.append(poisoned);
      const [, unknownAt, failingAt, skippedAt] = appended as [Position, Position, Position, Position, Position];
      // Records that end in the dead letter or are ignored count as finished once they are done.
      for (const position of [unknownAt, failingAt, skippedAt]) finished.add(key(position));
      const { consumer, handled } = start(
        (h) => {
          finished.add(key(h.position));
        },
        { ...(checkpoints ? { checkpoints } : {}), deadLetters, checkpointEvery: { records: 1 } },
      );
      await consumer.start();
      await consumer.caughtUp({ timeoutMs });

      expect(handled.map((h) => h.seq)).toEqual([1, 2]);
      const letters = deadLetters.letters.map((l) => ({
        code: l.code,
        position: key(l.record.position),
        attempts: l.attempts,
        group: l.group,
      }));
      expect(letters).toEqual([
        { code: 'UNKNOWN_EVENT_TYPE', position: key(unknownAt), attempts: 0, group: 'contract' },
        { code: 'HANDLER_FAILED', position: key(failingAt), attempts: 3, group: 'contract' },
      ]);
      const [unknown, failed] = deadLetters.letters as [DeadLetter, DeadLetter];
      expect(unknown.reason).toContain('"contract/unheard-of"');
      expect(unknown.reason).toContain(`partition ${unknownAt.partition}, offset ${unknownAt.offset}`);
      expect(failed.reason).toContain('contract handler refuses poisoned');
      if (!guarded) return;

      for (const position of [unknownAt, failingAt]) {
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
      expect((await guarded.load('contract'))[unknownAt.partition]).toBe((appended[4] as Position).offset);
    });

    it('stops a partition at an event the catalog cannot read yet (a newer version, an invalid payload), dead-letters it, and goes on elsewhere', async () => {
      const errors: string[] = [];
      const deadLetters = recordingSink();
      const [newerAt, , invalidAt] = await log.append([newerVersion('stuck'), item('stuck', 1), schemaInvalid('also-stuck')]);
      const others = items(30, 10, 0, 'free');
      const { consumer, handled } = start(() => {}, { deadLetters, errors });
      await consumer.start();
      const stuck = [...new Set([(newerAt as Position).partition, (invalidAt as Position).partition])];
      await until(
        () => stuck.every((partition) => consumer.status().partitions.find((p) => p.partition === partition)?.state === 'stopped'),
        'the partitions of the unreadable events to stop',
        timeoutMs,
      );
      const othersAt = await appendAll(log, others);
      // Partitions without an unreadable event go on.
      const free = othersAt.filter((position) => !stuck.includes(position.partition)).map(key);
      await until(
        () => free.every((at) => handled.some((h) => key(h.position) === at)),
        'the events of the other partitions to be handled',
        timeoutMs,
      );
      const stopped = consumer.status().partitions.filter((p) => p.state === 'stopped');
      expect(stopped.map((p) => p.partition).sort()).toEqual([...stuck].sort());
      expect(stopped.map((p) => p.stopped?.reason)).toEqual(stuck.map(() => 'unreadable'));
      expect(errors).toContain(`unreadable ${(newerAt as Position).partition}: UNREADABLE_VERSION`);
      if ((invalidAt as Position).partition !== (newerAt as Position).partition) {
        expect(errors).toContain(`unreadable ${(invalidAt as Position).partition}: DECODE_FAILED`);
      }
      expect(deadLetters.letters.map((l) => key(l.record.position))).toContain(key(newerAt as Position));
      expect(handled.some((h) => h.subject === 'stuck')).toBe(false);
      await expect(consumer.caughtUp({ timeoutMs })).rejects.toMatchObject({
        code: expect.stringMatching(/UNREADABLE_VERSION|DECODE_FAILED/),
      });
      if (subject.checkpoints) {
        const stored = await subject.checkpoints.load('contract');
        expect(stored[(newerAt as Position).partition]).toBeUndefined();
      }
    });

    it('retries a failing handler in place: later records of its partition wait for it', async () => {
      const appended = await log.append([item('flaky', 1), item('flaky', 2), item('flaky', 3)]);
      const attempts: string[] = [];
      const { consumer, handled } = start((h, attempt) => {
        attempts.push(`${h.seq}#${attempt}`);
        if (h.seq === 2 && attempt < 3) throw new Error('transient');
      });
      await consumer.start();
      await consumer.caughtUp({ timeoutMs });
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
      if (subject.checkpoints) expect(await subject.checkpoints.load('contract')).toEqual(lastFinished);

      const more = items(30, 11, count);
      await appendAll(log, more);
      const { consumer: second, handled: secondHandled } = start(() => {});
      await second.start();
      await second.caughtUp({ timeoutMs });
      const all = new Set([...firstHandled, ...secondHandled].map((h) => h.id));
      expect(all).toEqual(new Set([...events, ...more].map((event) => event.id)));
      for (const h of secondHandled) {
        const checkpoint = lastFinished[h.position.partition];
        if (checkpoint !== undefined) {
          expect(compareOffsets(h.position.offset, checkpoint), `${key(h.position)} was past the checkpoint`).toBe(1);
        }
      }
    });

    it('fencing: once another process took a partition over and claimed it, the former owner cannot move its checkpoint, and stops it (with leases)', async () => {
      if (!options.leases || !subject.checkpoints) return; // runs where the suite is given a lease store and a checkpoint store
      const store = subject.checkpoints;
      const leases = await options.leases(log);
      const appended = await log.append([item('fenced', 1), item('fenced', 2)]);
      const partition = (appended[0] as Position).partition;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered = false;
      const errors: string[] = [];
      // A long lease: its own renewals would notice the takeover only after the test; the fenced save must.
      const { consumer, handled } = start(
        async (h) => {
          if (h.seq === 2) {
            entered = true;
            await gate;
          }
        },
        { leases: { store: leases, ttlMs: 60_000, owner: 'former' }, checkpointEvery: { records: 1 }, errors },
      );
      await consumer.start();
      try {
        await until(() => entered, 'the second record to be in hand', timeoutMs);
        await until(
          async () => (await store.load('contract'))[partition] === (appended[0] as Position).offset,
          'the first checkpoint',
          timeoutMs,
        );
        const seen = (await leases.list('contract')).find((lease) => lease.partition === partition);
        const taken = await leases.take('contract', partition, 'successor', seen);
        expect(taken, 'the successor takes the lease').toBeDefined();
        await store.save('contract', {}, { [partition]: taken?.epoch ?? 0 });
      } finally {
        release();
      }
      await until(() => errors.includes(`stop ${partition}: lease-lost`), `partition ${partition} to stop as lost`, timeoutMs);
      expect(errors).toContain(`checkpoint ${partition}: LEASE_LOST`);
      expect(handled.map((h) => h.seq)).toEqual([1, 2]);
      // The stale save was refused: the checkpoint is still the one before the takeover.
      expect((await store.load('contract'))[partition]).toBe((appended[0] as Position).offset);
      expect(consumer.assigned()).not.toContain(partition);
      await leases.close();
    });

    it('lineage: partitions that split and merge while it runs are read parents first, nothing missed, per-subject order kept (on a log that reshards)', async () => {
      if (!reshardable(log)) return; // runs on logs whose partitions split and merge (the memory log, Kinesis)
      const reshard = log;
      const appended: Envelope[] = [];
      const append = async (events: Envelope[]) => {
        appended.push(...events);
        await appendAll(reshard, events);
      };
      let at = 0;
      const order = new Map<string, number[]>();
      const { consumer, handled } = start(async (h) => {
        if (at % 17 === 0) await new Promise((resolve) => setImmediate(resolve));
        order.set(h.position.partition, [...(order.get(h.position.partition) ?? []), at++]);
      });
      await append(items(120, 17, 0));
      await consumer.start();
      const [, right] = await reshard.split((await reshard.partitions())[0]?.id as string);
      await append(items(120, 17, 1000));
      const second = (await reshard.partitions()).find((p) => !p.closed && p.id !== right?.id && p.parents.length === 0);
      if (right && second) await reshard.merge(right.id, second.id);
      await append(items(120, 17, 2000));
      await consumer.caughtUp({ timeoutMs });

      expect(new Set(handled.map((h) => h.id))).toEqual(new Set(appended.map((event) => event.id)));
      expectOrdered(handled);
      for (const info of await reshard.partitions()) {
        const mine = order.get(info.id);
        if (!mine) continue;
        for (const parent of info.parents) {
          const theirs = order.get(parent) ?? [];
          expect(Math.max(...theirs, -1), `${parent} finished before ${info.id} started`).toBeLessThan(Math.min(...mine));
        }
      }
      if (subject.checkpoints) {
        const stored = await subject.checkpoints.load('contract');
        for (const closed of (await reshard.partitions()).filter((p) => p.closed)) expect(stored[closed.id]).toBe(PARTITION_END);
      }
    });
  });
}
