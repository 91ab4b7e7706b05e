import { type GroupBatchControl, type GroupSubscribeOptions, type PositionMap, RiverlogError } from '@riverlog/core';
import type { GroupEvents, KafkaEachBatchPayload } from './client.js';
import type { KafkaLogContext } from './context.js';
import { recordsFrom } from './records.js';

/** Reports what a group subscription survived (a failed batch, a failed commit, a crash). */
export type SubscriptionErrorHandler = (error: unknown, info: { readonly group: string; readonly partition?: string }) => void;

interface PartitionProgress {
  /** Where `startAfter` says to begin (the offset after the external checkpoint), asked once per assignment. */
  start: Promise<bigint | undefined> | undefined;
  /** The next offset to hand out; set once per assignment, from `startAfter` or from the first fetched batch. */
  next: bigint | undefined;
  /** The last offset committed to the group in this assignment. */
  committed: bigint | undefined;
  /** True once this assignment sought back to an external checkpoint, so it is done only once. */
  soughtBack: boolean;
}

interface BatchInFlight {
  active: boolean;
}

const HEARTBEAT_EVERY_MS = 1_000;
const RETRY_FAILED_BATCH_MS = 1_000;

/** Rebalance-related errors of a heartbeat: this member must stop and rejoin. */
function isRebalance(error: unknown): boolean {
  const type = (error as { type?: unknown } | undefined)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID' || type === 'FENCED_INSTANCE_ID';
}

/**
 * Joins `options.group` as a Kafka consumer group member and hands
 * `onBatch` each batch of the partitions this member is assigned.
 * autoCommit is off: offsets are committed when `onBatch` calls
 * `control.commit`, and after a batch it finished while its partition was
 * still assigned; never before. A rebalance turns `control.isActive()`
 * false for every batch in flight before the member rejoins.
 */
export async function subscribeGroup(
  ctx: KafkaLogContext,
  options: GroupSubscribeOptions,
  onError: SubscriptionErrorHandler,
): Promise<{ stop(): Promise<void> }> {
  ctx.ensureOpen();
  const { topic } = ctx;
  const { group } = options;
  if (typeof group !== 'string' || group.length === 0) {
    throw new RiverlogError('INVALID_OPTION', `subscribe: group must be a non-empty string, got ${JSON.stringify(group)}.`);
  }
  const types = options.types ? new Set(options.types) : undefined;

  let stopping = false;
  /** Bumped on every new assignment: batches of an older one may no longer commit. */
  let generation = 0;
  /** A rebalance began: batches finish the record in hand and return, so the member rejoins soon. */
  let rebalancePending = false;
  let assigned = new Set<number>();
  let progress = new Map<number, PartitionProgress>();
  const inFlight = new Set<BatchInFlight>();
  const deactivateAll = () => {
    rebalancePending = true;
    for (const batch of inFlight) batch.active = false;
  };

  const report = (error: unknown, partition?: number) => {
    try {
      onError(error, partition === undefined ? { group } : { group, partition: String(partition) });
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

  /** The partition's progress in this assignment; asks `startAfter` and seeks there as soon as it answers. */
  function progressOf(partition: number): PartitionProgress {
    const state = progress.get(partition);
    if (state) return state;
    const fresh: PartitionProgress = { start: undefined, next: undefined, committed: undefined, soughtBack: false };
    progress.set(partition, fresh);
    askStart(partition, fresh);
    return fresh;
  }

  function askStart(partition: number, state: PartitionProgress): void {
    if (!options.startAfter) return;
    const start = options.startAfter(String(partition)).then((after) => (after === undefined ? undefined : BigInt(after) + 1n));
    state.start = start;
    start.then(
      (wanted) => {
        if (wanted === undefined || stopping || progress.get(partition) !== state || state.next !== undefined) return;
        // Go to the external checkpoint before anything is fetched from the group's own offset.
        state.soughtBack = true;
        try {
          consumer.seek({ topic, partition, offset: wanted.toString() });
        } catch (error) {
          report(error, partition);
        }
      },
      (error) => {
        report(error, partition);
        if (state.start === start) state.start = undefined;
      },
    );
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
      for (const p of partitions) progressOf(p);
      // After a join, even an empty assignment is news: the member is in the group.
      if (added.length > 0 || whole) hook(() => options.onAssigned?.(added.map(String)));
    },
    rebalancing: deactivateAll,
    crashed(error, restarting) {
      deactivateAll();
      report(
        new RiverlogError(
          'SUBSCRIPTION_CRASHED',
          `The Kafka consumer of group ${JSON.stringify(group)} on ${ctx.uri} crashed${restarting ? ' and restarts' : ' and stopped'}: ${
            (error as Error)?.message ?? String(error)
          }`,
          { cause: error },
        ),
      );
    },
  };
  // A shorter long-poll than kafkajs's 5 s: seeks and stop() take effect after the fetch under way.
  const settings = { groupId: group, topic, fromBeginning: options.from !== 'latest', maxWaitTimeInMs: 1_000, extra: ctx.consumerConfig };
  const consumer = ctx.shape.consumer(ctx.kafka, settings, events);

  async function commit(partition: number, offset: bigint, state: PartitionProgress, batchGeneration: number): Promise<void> {
    if (batchGeneration !== generation) {
      throw new RiverlogError(
        'PARTITION_REVOKED',
        `Partition ${partition} of ${ctx.uri} was reassigned (group ${JSON.stringify(group)} rebalanced); its offset is left to its new owner.`,
      );
    }
    if (state.committed !== undefined && offset <= state.committed) return;
    await consumer.commitOffsets([{ topic, partition, offset: (offset + 1n).toString() }]);
    state.committed = offset;
  }

  /** Batches being handled: stop() waits for them, since kafkajs drops commits once it is stopping. */
  const handling = new Set<Promise<void>>();

  function eachBatch(payload: KafkaEachBatchPayload): Promise<void> {
    const run = handleBatch(payload);
    handling.add(run);
    return run.finally(() => handling.delete(run));
  }

  async function handleBatch(payload: KafkaEachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    const batchGeneration = generation;
    const first = batch.messages[0];
    if (first === undefined || stopping) return;

    const state = progressOf(partition);
    if (state.next === undefined) {
      let wanted: bigint | undefined;
      if (options.startAfter) {
        if (!state.start) askStart(partition, state);
        try {
          wanted = await state.start;
        } catch {
          // Reported by askStart; asked again with the next batch.
          await new Promise((resolve) => setTimeout(resolve, RETRY_FAILED_BATCH_MS));
          return;
        }
        // The seek to the external checkpoint supersedes what this batch holds.
        if (payload.isStale() || stopping || progress.get(partition) !== state) return;
      }
      if (wanted !== undefined) {
        if (BigInt(first.offset) > wanted && !state.soughtBack) {
          // The group's offset is ahead of the external checkpoint: go back to it once.
          state.soughtBack = true;
          consumer.seek({ topic, partition, offset: wanted.toString() });
          return;
        }
        state.next = wanted;
      } else {
        state.next = BigInt(first.offset);
      }
    }

    const { records, last } = recordsFrom(partition, batch.messages, state.next, undefined, types);
    if (last === undefined) {
      // All of it was finished before (behind an external checkpoint): fetch on from there.
      consumer.seek({ topic, partition, offset: state.next.toString() });
      return;
    }

    const flight: BatchInFlight = { active: !stopping && !rebalancePending && batchGeneration === generation };
    if (!flight.active) return;
    inFlight.add(flight);
    const isActive = () => flight.active && !stopping && batchGeneration === generation;
    const beat = async () => {
      try {
        await payload.heartbeat();
      } catch (error) {
        if (isRebalance(error)) deactivateAll();
        else throw error;
      }
    };
    const timer = setInterval(() => beat().catch(() => {}), HEARTBEAT_EVERY_MS);
    const current = state;
    const control: GroupBatchControl = {
      partition: String(partition),
      commit: (offset) => commit(partition, BigInt(offset), current, batchGeneration),
      heartbeat: beat,
      isActive,
    };
    try {
      if (records.length > 0) await options.onBatch(records, control);
    } catch (error) {
      report(error, partition);
      if (isActive()) {
        // Deliver again from the first record not committed, after a pause.
        const from = current.committed === undefined ? (current.next ?? 0n) : current.committed + 1n;
        current.next = from;
        consumer.seek({ topic, partition, offset: from.toString() });
        await new Promise((resolve) => setTimeout(resolve, RETRY_FAILED_BATCH_MS));
      }
      return;
    } finally {
      clearInterval(timer);
      inFlight.delete(flight);
    }
    if (!isActive()) return;
    // Finished while still ours: everything in the batch is done.
    current.next = last + 1n;
    payload.resolveOffset(last.toString());
    try {
      await commit(partition, last, current, batchGeneration);
    } catch (error) {
      // The work is done; the next batch's commit covers it. A revoked partition's offset is its new owner's.
      if ((error as RiverlogError).code !== 'PARTITION_REVOKED') report(error, partition);
    }
  }

  /** Commits checkpoints saved through the log's checkpoint store: only partitions this member holds now. */
  async function commitSaved(positions: PositionMap): Promise<void> {
    const batchGeneration = generation;
    for (const [id, offset] of Object.entries(positions)) {
      const partition = Number(id);
      if (!assigned.has(partition)) continue;
      await commit(partition, BigInt(offset), progressOf(partition), batchGeneration);
    }
  }

  const unregister = ctx.registerMember(group, commitSaved);
  const untrack = ctx.track(consumer, () => {
    stopping = true;
    deactivateAll();
    unregister();
  });
  try {
    await consumer.connect();
    await ctx.shape.subscribe(consumer, settings);
    await ctx.shape.run(consumer, { partitionsConsumedConcurrently: Math.max(1, (await ctx.partitionIds()).length), eachBatch });
  } catch (error) {
    untrack();
    unregister();
    await consumer.disconnect().catch(() => {});
    throw new RiverlogError(
      'SUBSCRIBE_FAILED',
      `Joining consumer group ${JSON.stringify(group)} on ${ctx.uri} failed: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        deactivateAll();
        // Batches finish the record in hand and commit it while the consumer still may.
        await Promise.allSettled([...handling]);
        await consumer.disconnect().catch((error) => report(error));
        untrack();
        unregister();
        const revoked = [...assigned];
        assigned = new Set();
        if (revoked.length > 0) hook(() => options.onRevoked?.(revoked.map(String)));
      })();
      return stopped;
    },
  };
}
