import { type GroupBatchControl, type GroupSubscribeOptions, type LogRecord, type PositionMap, RiverlogError } from '@riverlog/core';
import type { KafkaEachBatchPayload } from './client.js';
import type { KafkaLogContext } from './context.js';
import { matchesTypes, toLogRecord } from './records.js';

/** Reports what a group subscription survived (a failed batch, a failed commit, a crash). */
export type SubscriptionErrorHandler = (error: unknown, info: { readonly group: string; readonly partition?: string }) => void;

interface PartitionProgress {
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
  const consumer = ctx.shape.consumer(ctx.kafka, {
    groupId: group,
    fromBeginning: options.from !== 'latest',
    extra: ctx.consumerConfig,
  });

  let stopping = false;
  let generation = 0;
  /** A heartbeat learned of a rebalance: batches finish the record in hand and return, so the member rejoins soon. */
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

  if (consumer.on && consumer.events) {
    const events = consumer.events as { GROUP_JOIN: string; CRASH: string; REBALANCING?: string };
    consumer.on(events.GROUP_JOIN, (event: { payload: { memberAssignment: Record<string, number[]> } }) => {
      generation++;
      for (const batch of inFlight) batch.active = false;
      rebalancePending = false;
      const now = new Set(event.payload.memberAssignment[topic] ?? []);
      const revoked = [...assigned].filter((p) => !now.has(p));
      const added = [...now].filter((p) => !assigned.has(p));
      assigned = now;
      // Someone else may have owned a partition in between: every assignment starts afresh.
      progress = new Map();
      if (revoked.length > 0) hook(() => options.onRevoked?.(revoked.map(String)));
      if (added.length > 0) hook(() => options.onAssigned?.(added.map(String)));
    });
    if (events.REBALANCING) consumer.on(events.REBALANCING, deactivateAll);
    consumer.on(events.CRASH, (event: { payload: { error: unknown; restart: boolean } }) => {
      deactivateAll();
      report(
        new RiverlogError(
          'SUBSCRIPTION_CRASHED',
          `The Kafka consumer of group ${JSON.stringify(group)} on ${ctx.uri} crashed${event.payload.restart ? ' and restarts' : ' and stopped'}: ${
            (event.payload.error as Error)?.message ?? String(event.payload.error)
          }`,
          { cause: event.payload.error },
        ),
      );
    });
  }

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

  async function eachBatch(payload: KafkaEachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    const batchGeneration = generation;
    const first = batch.messages[0];
    if (first === undefined || stopping) return;

    let state = progress.get(partition);
    if (!state) {
      state = { next: undefined, committed: undefined, soughtBack: false };
      progress.set(partition, state);
    }
    if (state.next === undefined) {
      const after = options.startAfter ? await options.startAfter(String(partition)) : undefined;
      if (after !== undefined) {
        const wanted = BigInt(after) + 1n;
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
      if (!assigned.has(partition) && !(consumer.on && consumer.events)) {
        // A client without group events: learn the assignment from the batches.
        assigned.add(partition);
        hook(() => options.onAssigned?.([String(partition)]));
      }
    }

    const records: LogRecord[] = [];
    let last: bigint | undefined;
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      if (offset < state.next) continue;
      last = offset;
      const record = toLogRecord(partition, message);
      if (matchesTypes(record, types)) records.push(record);
    }
    if (last === undefined) return;

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
      if (isActive()) {
        // Finished while still ours: everything in the batch is done.
        await commit(partition, last, current, batchGeneration);
        current.next = last + 1n;
        payload.resolveOffset(last.toString());
      }
    } catch (error) {
      report(error, partition);
      if (isActive()) {
        // Deliver again from the first record not committed, after a pause.
        const from = current.committed === undefined ? current.next : current.committed + 1n;
        current.next = from;
        consumer.seek({ topic, partition, offset: (from ?? 0n).toString() });
        await new Promise((resolve) => setTimeout(resolve, RETRY_FAILED_BATCH_MS));
      }
    } finally {
      clearInterval(timer);
      inFlight.delete(flight);
    }
  }

  /** Commits checkpoints saved through the log's checkpoint store: only partitions this member holds now. */
  async function commitSaved(positions: PositionMap): Promise<void> {
    const batchGeneration = generation;
    for (const [id, offset] of Object.entries(positions)) {
      const partition = Number(id);
      if (!assigned.has(partition)) continue;
      let state = progress.get(partition);
      if (!state) {
        state = { next: undefined, committed: undefined, soughtBack: false };
        progress.set(partition, state);
      }
      await commit(partition, BigInt(offset), state, batchGeneration);
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
    await ctx.shape.subscribe(consumer, topic, { groupId: group, fromBeginning: options.from !== 'latest', extra: {} });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, (await ctx.partitionIds()).length),
      eachBatch,
    });
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
