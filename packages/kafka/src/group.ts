import {
  backoffPolicy,
  type GroupBatchControl,
  type GroupBatchStop,
  type GroupSubscribeOptions,
  type ReadBatch,
  RiverlogError,
} from '@riverlog/core';
import { checkOptions, sleep } from '@riverlog/core/backend';
import type { GroupEvents, KafkaEachBatchPayload } from './client.js';
import type { KafkaConnection, KafkaLogContext } from './context.js';
import { recordsFrom } from './records.js';

/** One assignment of one partition to this member: where it stands. */
interface PartitionProgress {
  /** Where delivery starts: the checkpoint store's offset + 1, the group's committed offset, or `from`. */
  start: Promise<bigint> | undefined;
  /** The next offset to hand out; set from `start` (store) or the first fetched batch (group offsets). */
  next: bigint | undefined;
  /** The offset this assignment last sought to, so a gap in the offsets never makes it seek there again. */
  soughtTo: bigint | undefined;
  /** The last offset committed to the group in this assignment. */
  committed: bigint | undefined;
  /** Failures in a row (batches, commits, loads): how long to wait before the next try. */
  failures: number;
  /** Whether a batch (or the caught-up signal) went to `onBatch` in this assignment. */
  delivered: boolean;
  /** Batches of the partition run one after another, the caught-up signal included. */
  turn: Promise<void>;
}

interface BatchInFlight {
  active: boolean;
}

const HEARTBEAT_EVERY_MS = 1_000;
const KNOWN_OPTIONS: readonly (keyof GroupSubscribeOptions)[] = [
  'group',
  'from',
  'types',
  'checkpoints',
  'onBatch',
  'onAssigned',
  'onRevoked',
  'onError',
];

/** Rebalance-related errors of a heartbeat or a commit: this member must stop and rejoin. */
function isRebalance(error: unknown): boolean {
  const type = (error as { type?: unknown } | undefined)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID' || type === 'FENCED_INSTANCE_ID';
}

const message = (error: unknown) => (error as Error)?.message ?? String(error);

/**
 * Joins `options.group` as a Kafka consumer group member and hands
 * `onBatch` each batch of the partitions this member is assigned. The group
 * keeps one checkpoint: without `options.checkpoints`, Kafka's group offsets,
 * committed (autoCommit off) after each batch up to what `onBatch` finished,
 * only while the partition is still this member's in the same generation;
 * with it, that store only, loaded on every assignment (the group offsets
 * are then never committed nor read). A rebalance turns
 * `control.isActive()` false for every batch in flight before the member
 * rejoins; the eager protocol kafkajs uses gives the partition to its next
 * owner only after this member rejoined.
 */
export async function subscribeGroup(ctx: KafkaLogContext, options: GroupSubscribeOptions): Promise<{ stop(): Promise<void> }> {
  checkOptions('subscribe', options, KNOWN_OPTIONS);
  ctx.ensureOpen();
  const { topic } = ctx;
  const { group, checkpoints: store } = options;
  if (typeof group !== 'string' || group.length === 0) {
    throw new RiverlogError('INVALID_OPTION', `subscribe: group must be a non-empty string, got ${JSON.stringify(group)}.`);
  }
  if (typeof options.onBatch !== 'function') throw new RiverlogError('INVALID_OPTION', 'subscribe: onBatch must be a function.');
  if (options.from !== undefined && options.from !== 'earliest' && options.from !== 'latest') {
    throw new RiverlogError('INVALID_OPTION', `subscribe: from must be 'earliest' or 'latest', got ${JSON.stringify(options.from)}.`);
  }
  const connection = await ctx.connect();
  const types = options.types ? new Set(options.types) : undefined;
  const policy = backoffPolicy({ initialMs: 200, maxMs: 10_000 });

  let stopping = false;
  /** Bumped on every new assignment: batches of an older one may no longer commit. */
  let generation = 0;
  /** A rebalance began: batches finish the record in hand and return, so the member rejoins soon. */
  let rebalancePending = false;
  let assigned = new Set<number>();
  let progress = new Map<number, PartitionProgress>();
  const inFlight = new Set<BatchInFlight>();
  /** Batches being handled: stop() waits for them, since kafkajs drops commits once it is stopping. */
  const handling = new Set<Promise<void>>();
  const deactivateAll = () => {
    rebalancePending = true;
    for (const batch of inFlight) batch.active = false;
  };

  const report = (error: unknown, partition?: number) => {
    try {
      if (options.onError) options.onError(error, partition === undefined ? undefined : String(partition));
      else console.error(`riverlog kafka: group ${group}${partition === undefined ? '' : ` partition ${partition}`}:`, error);
    } catch {
      // A failing error handler must not stop the subscription.
    }
  };

  const hook = (run: () => void) => {
    try {
      run();
    } catch (error) {
      report(error);
    }
  };

  const revoke = (partitions: number[]) => {
    const gone = partitions.filter((p) => assigned.has(p));
    for (const p of gone) {
      assigned.delete(p);
      progress.delete(p);
    }
    if (gone.length > 0) hook(() => options.onRevoked?.(gone.map(String)));
  };

  const seek = (partition: number, state: PartitionProgress, offset: bigint) => {
    state.soughtTo = offset;
    try {
      consumer.seek({ topic, partition, offset: offset.toString() });
    } catch (error) {
      report(error, partition);
    }
  };

  /** The partition's progress in this assignment; finds where it starts as soon as it is created. */
  function progressOf(partition: number): PartitionProgress {
    const existing = progress.get(partition);
    if (existing) return existing;
    const state: PartitionProgress = {
      start: undefined,
      next: undefined,
      soughtTo: undefined,
      committed: undefined,
      failures: 0,
      delivered: false,
      turn: Promise.resolve(),
    };
    progress.set(partition, state);
    findStart(partition, state);
    return state;
  }

  const isCurrent = (partition: number, state: PartitionProgress) => !stopping && progress.get(partition) === state;

  /** Where the assignment starts; in store mode, seeks there before anything is fetched from elsewhere. */
  function findStart(partition: number, state: PartitionProgress): void {
    const start = startOf(connection, ctx, options, partition);
    state.start = start;
    start.then(
      (offset) => {
        if (!isCurrent(partition, state)) return;
        if (store && state.next === undefined) seek(partition, state, offset);
        const signalled = signalCaughtUp(partition, state, offset).catch((error) => report(error, partition));
        handling.add(signalled);
        void signalled.finally(() => handling.delete(signalled));
      },
      (error) => {
        report(error, partition);
        if (state.start === start) state.start = undefined;
      },
    );
  }

  /** A partition assigned at its end gets an empty caught-up batch, as a read does: Kafka fetches nothing there until new records come. */
  async function signalCaughtUp(partition: number, state: PartitionProgress, start: bigint): Promise<void> {
    const high = await highWatermark(connection, topic, partition);
    if (start < high || !isCurrent(partition, state) || state.delivered) return;
    const assignment = generation;
    await inTurn(state, async () => {
      if (!isCurrent(partition, state) || state.delivered) return;
      state.delivered = true;
      const control = controlFor(partition, { active: true }, assignment, async () => {});
      try {
        await options.onBatch({ partition: String(partition), records: [], caughtUp: true, ended: false, lag: { records: 0 } }, control);
      } catch (error) {
        state.delivered = false;
        throw error;
      }
    });
  }

  function inTurn(state: PartitionProgress, work: () => Promise<void>): Promise<void> {
    const run = state.turn.then(work);
    state.turn = run.catch(() => {});
    return run;
  }

  function controlFor(partition: number, flight: BatchInFlight, batchGeneration: number, beat: () => Promise<void>): GroupBatchControl {
    return {
      partition: String(partition),
      heartbeat: beat,
      isActive: () => flight.active && !stopping && batchGeneration === generation,
    };
  }

  const events: GroupEvents = {
    assigned(partitions, whole) {
      generation++;
      for (const batch of inFlight) batch.active = false;
      rebalancePending = false;
      if (whole) {
        const now = new Set(partitions);
        revoke([...assigned].filter((p) => !now.has(p)));
        // Someone else may have owned a kept partition in between: every assignment starts afresh.
        progress = new Map();
      }
      const added = partitions.filter((p) => !assigned.has(p));
      for (const p of added) assigned.add(p);
      // After a join, even an empty assignment is news: the member is in the group.
      if (added.length > 0 || whole) hook(() => options.onAssigned?.(added.map(String)));
      for (const p of partitions) progressOf(p);
    },
    rebalancing: deactivateAll,
    crashed(error, restarting) {
      deactivateAll();
      if (stopping) return;
      report(
        new RiverlogError(
          'LOG_READ_FAILED',
          `The Kafka consumer of group ${JSON.stringify(group)} on ${ctx.uri} crashed${restarting ? ' and restarts' : '; kafkajs gives up, riverlog rejoins with backoff'}: ${message(error)}`,
          { cause: error },
        ),
      );
      if (!restarting) {
        // kafkajs disconnected and left the group: the partitions are the next owner's until this member rejoins.
        revoke([...assigned]);
        if (rejoining) crashedWhileJoining = true;
        else
          rejoining = rejoin().finally(() => {
            rejoining = undefined;
          });
      }
    },
  };
  /** A rejoin after a crash kafkajs does not restart from; stop() ends its wait. */
  let rejoining: Promise<void> | undefined;
  const stopRejoin = new AbortController();

  /** Set when a join under way crashed (kafkajs's run resolves then): the rejoin tries again. */
  let crashedWhileJoining = false;

  /**
   * Connects, subscribes and runs the consumer again until it is back in the
   * group, waiting by core's backoff before each attempt and reporting each
   * failed one; ends early on stop() or close().
   */
  async function rejoin(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await sleep(policy.delay(attempt), stopRejoin.signal);
      if (stopping || ctx.isClosed) return;
      crashedWhileJoining = false;
      try {
        await join();
      } catch (error) {
        if (stopping || ctx.isClosed) return;
        report(
          new RiverlogError(
            'LOG_READ_FAILED',
            `Rejoining consumer group ${JSON.stringify(group)} on ${ctx.uri} failed: ${message(error)}`,
            {
              cause: error,
            },
          ),
        );
        continue;
      }
      if (!crashedWhileJoining) return;
    }
  }
  // A shorter long-poll than kafkajs's 5 s: seeks and stop() take effect after the fetch under way.
  const settings = {
    groupId: group,
    topic,
    fromBeginning: options.from !== 'latest',
    maxWaitTimeInMs: 1_000,
    extra: ctx.settings.consumer,
  };
  const consumer = ctx.shape.consumer(connection.kafka, settings, events);

  function eachBatch(payload: KafkaEachBatchPayload): Promise<void> {
    const first = payload.batch.messages[0];
    if (first === undefined || stopping) return Promise.resolve();
    const state = progressOf(payload.batch.partition);
    const run = inTurn(state, () => handleBatch(payload, state));
    handling.add(run);
    return run.finally(() => handling.delete(run));
  }

  /** Waits before the partition is tried again, longer after each failure in a row. */
  async function pause(state: PartitionProgress): Promise<void> {
    state.failures++;
    await sleep(policy.delay(state.failures));
  }

  async function handleBatch(payload: KafkaEachBatchPayload, state: PartitionProgress): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    const batchGeneration = generation;
    if (!isCurrent(partition, state)) return;

    if (state.next === undefined && !store) {
      // With group offsets Kafka fetches from the checkpoint itself.
      state.next = BigInt((batch.messages[0] as { offset: string }).offset);
    } else if (state.next === undefined) {
      // A store's checkpoint may lie anywhere: nothing is delivered before it is known.
      if (!state.start) findStart(partition, state);
      let start: bigint;
      try {
        start = await (state.start as Promise<bigint>);
      } catch {
        // Reported by findStart; asked again with the batch fetched again.
        await pause(state);
        return;
      }
      if (payload.isStale() || !isCurrent(partition, state)) return;
      state.next = start;
    }
    const next = state.next;
    const { records, last } = recordsFrom(partition, batch.messages, next, undefined, types);
    if (last === undefined || BigInt((batch.messages[0] as { offset: string }).offset) > next) {
      // Everything fetched lies before `next`, or after it (the group's offset is ahead of the store's): fetch from `next`.
      if (state.soughtTo !== next) {
        seek(partition, state, next);
        return;
      }
      if (last === undefined) return;
      // Sought there already: the offsets in between do not exist (compaction, transaction markers).
    }

    const flight: BatchInFlight = { active: !stopping && !rebalancePending && batchGeneration === generation };
    if (!flight.active) return;
    inFlight.add(flight);
    const beat = async () => {
      try {
        await payload.heartbeat();
      } catch (error) {
        if (isRebalance(error)) deactivateAll();
        else throw error;
      }
    };
    const control = controlFor(partition, flight, batchGeneration, beat);
    const high = BigInt(batch.highWatermark);
    const after = last + 1n;
    const readBatch: ReadBatch = {
      partition: String(partition),
      records,
      caughtUp: after >= high,
      ended: false,
      lag: { records: Number(high > after ? high - after : 0n) },
    };
    const timer = setInterval(() => beat().catch(() => {}), HEARTBEAT_EVERY_MS);
    let outcome: undefined | GroupBatchStop;
    try {
      if (records.length > 0 || readBatch.caughtUp) {
        state.delivered = true;
        outcome = (await options.onBatch(readBatch, control)) as GroupBatchStop | undefined;
      }
    } catch (error) {
      report(error, partition);
      if (control.isActive()) {
        // Delivered again from the first record not finished, after a pause.
        seek(partition, state, next);
        await pause(state);
      }
      return;
    } finally {
      clearInterval(timer);
      inFlight.delete(flight);
    }

    const finished = outcome === undefined ? last : outcome.lastFinished === undefined ? undefined : BigInt(outcome.lastFinished);
    if (finished !== undefined) {
      // The partition is still ours in this generation (a stop included): its checkpoint moves.
      // Only while the partition is still ours in this generation (a stop included): never over a new owner's.
      if (batchGeneration !== generation || progress.get(partition) !== state) return;
      if (!store && !(await commit(partition, state, finished))) return;
      state.next = finished + 1n;
      state.failures = 0;
      payload.resolveOffset(finished.toString());
    }
    if (finished === undefined || finished < last) {
      // Stopped early: the rest comes again, after a pause when nothing moved and the partition is still held.
      if (!control.isActive()) return;
      seek(partition, state, state.next ?? next);
      if (finished === undefined) await pause(state);
    }
  }

  /** Commits the group's offset after `finished`; false (reported, and the batch sought back) when Kafka refused it. */
  async function commit(partition: number, state: PartitionProgress, finished: bigint): Promise<boolean> {
    if (state.committed !== undefined && finished <= state.committed) return true;
    try {
      await consumer.commitOffsets([{ topic, partition, offset: (finished + 1n).toString() }]);
      state.committed = finished;
      return true;
    } catch (error) {
      // The partition went to another member meanwhile: its offset is the new owner's.
      if (isRebalance(error) && (rebalancePending || stopping)) return false;
      report(
        new RiverlogError(
          'LOG_WRITE_FAILED',
          `Committing group ${JSON.stringify(group)}'s offset ${finished} of partition ${partition} on ${ctx.uri} failed: ${message(error)}. The batch is delivered again.`,
          { cause: error },
        ),
        partition,
      );
      if (isCurrent(partition, state) && state.next !== undefined) {
        seek(partition, state, (state.committed ?? state.next - 1n) + 1n);
        await pause(state);
      }
      return false;
    }
  }

  /** Joins the group: connects, subscribes and starts fetching. */
  async function join(): Promise<void> {
    // A broker that restarts, or one that does not list a topic just created yet, is waited for a while.
    await ctx.patiently(() => consumer.connect());
    await ctx.patiently(() => ctx.shape.subscribe(consumer, settings));
    ctx.ensureOpen();
    await ctx.shape.run(consumer, { partitionsConsumedConcurrently: Math.max(1, (await ctx.partitionIds()).length), eachBatch });
    ctx.ensureOpen();
  }

  const release = ctx.use(
    () => {
      stopping = true;
      stopRejoin.abort();
      deactivateAll();
    },
    async () => {
      await rejoining;
      await consumer.disconnect().catch((error) => report(error));
    },
  );
  try {
    await join();
  } catch (error) {
    await release();
    if (error instanceof RiverlogError && error.code === 'CLOSED') throw error;
    throw new RiverlogError('LOG_READ_FAILED', `Joining consumer group ${JSON.stringify(group)} on ${ctx.uri} failed: ${message(error)}`, {
      cause: error,
    });
  }

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        stopRejoin.abort();
        deactivateAll();
        // Batches finish the record in hand and commit it while the consumer still may.
        await Promise.allSettled([...handling]);
        await release();
        const revoked = [...assigned];
        assigned = new Set();
        if (revoked.length > 0) hook(() => options.onRevoked?.(revoked.map(String)));
      })();
      return stopped;
    },
  };
}

/** Where an assigned partition starts: after the store's checkpoint, at the group's committed offset, or at `from`. */
async function startOf(
  connection: KafkaConnection,
  ctx: KafkaLogContext,
  options: GroupSubscribeOptions,
  partition: number,
): Promise<bigint> {
  if (options.checkpoints) {
    const after = await options.checkpoints.load(String(partition));
    if (after !== undefined) return BigInt(after) + 1n;
  } else {
    const committed = (await connection.admin.fetchOffsets({ groupId: options.group, topics: [ctx.topic] }))
      .find((t) => t.topic === ctx.topic)
      ?.partitions.find((p) => p.partition === partition)?.offset;
    if (committed !== undefined && BigInt(committed) >= 0n) return BigInt(committed);
  }
  const marks = (await connection.admin.fetchTopicOffsets(ctx.topic)).find((o) => o.partition === partition);
  return BigInt((options.from === 'latest' ? marks?.high : marks?.low) ?? '0');
}

async function highWatermark(connection: KafkaConnection, topic: string, partition: number): Promise<bigint> {
  const marks = (await connection.admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition);
  return BigInt(marks?.high ?? '0');
}
