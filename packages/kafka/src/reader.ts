import { type ReadBatch, type ReadOptions, RiverlogError, ulid } from '@riverlog/core';
import { checkReadOptions, resolveStart } from '@riverlog/core/backend';
import { Channel } from './channel.js';
import type { KafkaEachBatchPayload } from './client.js';
import type { KafkaConnection, KafkaLogContext } from './context.js';
import { recordsFrom, slices } from './records.js';

interface PartitionRead {
  /** The next offset to deliver; anything fetched below it is skipped. */
  next: bigint;
  /** Where a finite read of this partition ends (its high watermark when the read began). */
  readonly end: bigint | undefined;
  done: boolean;
}

const HEARTBEAT_EVERY_MS = 2_000;

/** An empty batch that says where the reader stands. */
function standing(partition: string, caughtUp: boolean, lag: bigint, ended = false): ReadBatch {
  return { partition, records: [], caughtUp, ended, lag: { records: Number(lag > 0n ? lag : 0n) } };
}

/**
 * Reads the topic with a consumer of a group made for this read and deleted
 * when it ends (kafkajs assigns partitions only through groups; nothing is
 * committed to it): each wanted partition is sought to its start, the
 * others are paused. A finite read ends at the high watermarks taken when it
 * began and goes through the partitions one after another in ascending
 * order (so two reads of the same records yield the same sequence); a
 * following read takes them as they come. Whatever kafkajs fetches below a
 * partition's next offset (before a seek took effect, or after a restart
 * from the earliest offset) is skipped, so every record comes once, in order.
 * Partitions at their end when the read starts yield an empty caught-up
 * batch first.
 */
export async function* readKafka(ctx: KafkaLogContext, options: ReadOptions): AsyncGenerator<ReadBatch> {
  let connection: KafkaConnection;
  let known: number[];
  try {
    connection = await ctx.connect();
    known = await ctx.partitionIds();
  } catch (error) {
    throw asReadError(ctx.uri, error);
  }
  ctx.ensureOpen();
  const { topic } = ctx;
  const follow = options.follow === true;
  const types = options.types ? new Set(options.types) : undefined;
  const signal = options.signal;
  const checked = checkReadOptions(options, { name: `Kafka log ${ctx.uri}`, partitions: known.map(String) });
  const { batchSize } = checked;
  const wanted = checked.partitions.map(Number);
  const { states, ended, highs } = await startingPoints(ctx, connection, wanted, options, follow).catch((error) => {
    throw asReadError(ctx.uri, error);
  });
  for (const partition of ended) yield standing(String(partition), true, 0n, true);
  for (const [partition, state] of states) {
    if (state.next >= (highs.get(partition) ?? 0n)) yield standing(String(partition), true, 0n);
  }
  if ([...states.values()].every((s) => s.done) || signal?.aborted || ctx.isClosed) return;

  const channel = new Channel<ReadBatch>();
  const groupId = `${ctx.settings.readGroupPrefix}${ulid()}`;
  const consumer = ctx.shape.consumer(
    connection.kafka,
    { groupId, topic, fromBeginning: true, maxWaitTimeInMs: follow ? 500 : 100, extra: {} },
    {
      assigned() {},
      rebalancing() {},
      crashed(error, restarting) {
        if (!restarting) channel.end(readFailed(ctx.uri, error));
      },
    },
  );
  // Leaving: the consumer disconnects and the read's group is deleted, before the log (on close) disconnects its admin.
  const release = ctx.use(
    () => channel.end(),
    async () => {
      await consumer.disconnect().catch(() => {});
      await forgetGroup(connection, groupId);
    },
  );
  const onAbort = () => channel.end();
  signal?.addEventListener('abort', onAbort);

  const pausePartition = (partition: number) => {
    try {
      consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      // Not assigned yet: its first batch pauses it.
    }
  };
  // A finite read works on one partition at a time: the lowest one not done.
  let current = follow ? undefined : nextPartition(states);
  const moveOn = () => {
    current = nextPartition(states);
    if (current === undefined) {
      channel.end();
      return;
    }
    try {
      consumer.resume([{ topic, partitions: [current] }]);
    } catch {
      // Resumed when assigned: it was never paused.
    }
  };

  async function deliver(batch: ReadBatch, heartbeat: () => Promise<void>): Promise<boolean> {
    const timer = setInterval(() => heartbeat().catch(() => {}), HEARTBEAT_EVERY_MS);
    try {
      return await channel.push(batch);
    } finally {
      clearInterval(timer);
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat }: KafkaEachBatchPayload): Promise<void> {
    const state = states.get(batch.partition);
    if (!state || state.done || channel.isEnded || (!follow && batch.partition !== current)) {
      // Not resolved: a resumed partition is fetched again from where it stood.
      pausePartition(batch.partition);
      return;
    }
    const { records, last } = recordsFrom(batch.partition, batch.messages, state.next, state.end, types);
    if (last === undefined && batch.messages.length > 0 && (state.end === undefined || state.next < state.end)) {
      // Everything fetched lay before `next` (a restart from the earliest offset): jump there.
      consumer.seek({ topic, partition: batch.partition, offset: state.next.toString() });
      return;
    }
    const high = BigInt(batch.highWatermark);
    // The end of a finite read, or of what the partition holds now for a following one.
    const end = state.end ?? high;
    const fetchedTo = BigInt(batch.lastOffset()) + 1n;
    const after = last === undefined ? state.next : last + 1n;
    const reached = after >= end || fetchedTo >= end ? (after > end ? after : end) : after;
    const id = String(batch.partition);
    const caughtUpAt = (position: bigint) => position >= end;
    if (records.length === 0) {
      if (caughtUpAt(reached) && !(await deliver(standing(id, true, high - reached), heartbeat))) return;
    } else {
      for (const [slice, position] of slices(records, batchSize, reached)) {
        const caughtUp = caughtUpAt(position);
        const batchOut: ReadBatch = {
          partition: id,
          records: slice,
          caughtUp,
          ended: false,
          lag: { records: Number(high > position ? high - position : 0n) },
        };
        if (!(await deliver(batchOut, heartbeat))) return;
      }
    }
    state.next = reached;
    if (last !== undefined) resolveOffset(last.toString());
    if (state.end !== undefined && reached >= state.end) {
      state.done = true;
      pausePartition(batch.partition);
      moveOn();
    }
  }

  try {
    await consumer.connect();
    await ctx.shape.subscribe(consumer, { groupId, topic, fromBeginning: true, extra: {} });
    const running = ctx.shape.run(consumer, { partitionsConsumedConcurrently: 1, eachBatch });
    running.catch((error) => channel.end(readFailed(ctx.uri, error)));
    // Right after run(): kafkajs keeps seeks and pauses until the partitions are assigned.
    for (const [partition, state] of states) {
      if (!state.done) {
        try {
          consumer.seek({ topic, partition, offset: state.next.toString() });
        } catch {
          // The eachBatch filter still skips what comes before `next`.
        }
      }
    }
    const idle = known.filter((p) => states.get(p)?.done !== false || (current !== undefined && p !== current));
    if (idle.length > 0) {
      try {
        consumer.pause([{ topic, partitions: idle }]);
      } catch {
        // Paused on their first batch instead.
      }
    }
    for (;;) {
      const batch = await channel.pull();
      if (batch === undefined) return;
      yield batch;
    }
  } catch (error) {
    throw asReadError(ctx.uri, error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    channel.end();
    channel.drop();
    await release();
  }
}

/** Deletes the read's group (empty once its consumer left): reads leave nothing behind on the broker. */
async function forgetGroup(connection: KafkaConnection, groupId: string): Promise<void> {
  try {
    await connection.admin.deleteGroups?.([groupId]);
  } catch {
    // Never created (the read failed before joining), or already gone.
  }
}

function nextPartition(states: ReadonlyMap<number, PartitionRead>): number | undefined {
  let lowest: number | undefined;
  for (const [partition, state] of states) if (!state.done && (lowest === undefined || partition < lowest)) lowest = partition;
  return lowest;
}

function readFailed(uri: string, cause: unknown): RiverlogError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new RiverlogError('LOG_READ_FAILED', `Reading Kafka log ${uri} failed: ${reason}`, { cause });
}

function asReadError(uri: string, error: unknown): unknown {
  return error instanceof RiverlogError ? error : readFailed(uri, error);
}

/** Where each wanted partition starts (and, for a finite read, ends); `ended`: partitions read to their end already. */
async function startingPoints(
  ctx: KafkaLogContext,
  connection: KafkaConnection,
  wanted: readonly number[],
  options: ReadOptions,
  follow: boolean,
): Promise<{ states: Map<number, PartitionRead>; ended: number[]; highs: Map<number, bigint> }> {
  const watermarks = new Map((await connection.admin.fetchTopicOffsets(ctx.topic)).map((o) => [o.partition, o]));
  let byTime: Map<number, bigint> | undefined;
  const states = new Map<number, PartitionRead>();
  const ended: number[] = [];
  const highs = new Map<number, bigint>();
  for (const partition of wanted) {
    const marks = watermarks.get(partition);
    const low = BigInt(marks?.low ?? '0');
    const high = BigInt(marks?.high ?? '0');
    highs.set(partition, high);
    const start = resolveStart(options.from, String(partition));
    let next: bigint;
    switch (start.kind) {
      case 'end':
        ended.push(partition);
        continue;
      case 'earliest':
        next = low;
        break;
      case 'latest':
        next = high;
        break;
      case 'after':
        next = BigInt(start.offset) + 1n;
        break;
      case 'at':
        next = BigInt(start.offset);
        break;
      case 'time':
        byTime ??= new Map(
          (await connection.admin.fetchTopicOffsetsByTimestamp(ctx.topic, start.time)).map((o) => [o.partition, BigInt(o.offset)]),
        );
        next = byTime.get(partition) ?? high;
        break;
    }
    if (next < low) next = low;
    const end = follow ? undefined : high;
    states.set(partition, { next, end, done: end !== undefined && next >= end });
  }
  return { states, ended, highs };
}
