import { checkReadOptions, type LogRecord, type ReadOptions, RiverlogError, resolveStart, ulid } from '@riverlog/core';
import { Channel } from './channel.js';
import type { KafkaEachBatchPayload } from './client.js';
import type { KafkaLogContext } from './context.js';
import { recordsFrom } from './records.js';

interface PartitionRead {
  /** The next offset to deliver; anything fetched below it is skipped. */
  next: bigint;
  /** Where a finite read of this partition ends (its high watermark when the read began). */
  readonly end: bigint | undefined;
  done: boolean;
}

const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Reads the topic with a consumer of a throwaway group (kafkajs assigns
 * partitions only through groups): each wanted partition is sought to its
 * start, the others are paused. A finite read ends at the high watermarks
 * taken when it began and goes through the partitions one after another in
 * ascending order (so two reads of the same records yield the same
 * sequence); a following read takes them as they come. Whatever kafkajs
 * fetches below a partition's next offset (before a seek took effect, or
 * after a restart from the earliest offset) is skipped, so every record
 * comes once, in order.
 */
export async function* readKafka(ctx: KafkaLogContext, options: ReadOptions): AsyncGenerator<LogRecord[]> {
  ctx.ensureOpen();
  const { topic } = ctx;
  const follow = options.follow === true;
  const types = options.types ? new Set(options.types) : undefined;
  const signal = options.signal;

  const known = await ctx.partitionIds();
  ctx.ensureOpen();
  const checked = checkReadOptions(options, { name: `Kafka log ${ctx.uri}`, partitions: known.map(String) });
  const { maxBatch } = checked;
  const wanted = checked.partitions.map(Number);
  const states = await startingPoints(ctx, wanted, options, follow);
  if ([...states.values()].every((s) => s.done) || signal?.aborted || ctx.isClosed) return;

  const channel = new Channel<LogRecord[]>();
  const consumer = ctx.shape.consumer(
    ctx.kafka,
    { groupId: `${ctx.readGroupPrefix}${ulid()}`, topic, fromBeginning: true, maxWaitTimeInMs: follow ? 500 : 100, extra: {} },
    {
      assigned() {},
      rebalancing() {},
      crashed(error, restarting) {
        if (!restarting) channel.end(readFailed(ctx.uri, error));
      },
    },
  );
  const untrack = ctx.track(consumer, () => channel.end());
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

  async function deliver(records: LogRecord[], heartbeat: () => Promise<void>): Promise<boolean> {
    const timer = setInterval(() => heartbeat().catch(() => {}), HEARTBEAT_EVERY_MS);
    try {
      return await channel.push(records);
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
    if (last !== undefined) {
      state.next = last + 1n;
      resolveOffset(last.toString());
    } else if (batch.messages.length > 0 && (state.end === undefined || state.next < state.end)) {
      // Everything fetched lay before `next` (a restart from the earliest offset): jump there.
      consumer.seek({ topic, partition: batch.partition, offset: state.next.toString() });
      return;
    }
    for (let i = 0; i < records.length; i += maxBatch) {
      if (!(await deliver(records.slice(i, i + maxBatch), heartbeat))) return;
    }
    if (state.end !== undefined && (state.next >= state.end || BigInt(batch.lastOffset()) + 1n >= state.end)) {
      state.done = true;
      pausePartition(batch.partition);
      moveOn();
    }
  }

  try {
    await consumer.connect();
    await ctx.shape.subscribe(consumer, { groupId: '', topic, fromBeginning: true, extra: {} });
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
    if (error instanceof RiverlogError) throw error;
    throw readFailed(ctx.uri, error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    channel.end();
    channel.drop();
    untrack();
    await consumer.disconnect().catch(() => {});
  }
}

function nextPartition(states: ReadonlyMap<number, PartitionRead>): number | undefined {
  let lowest: number | undefined;
  for (const [partition, state] of states) if (!state.done && (lowest === undefined || partition < lowest)) lowest = partition;
  return lowest;
}

function readFailed(uri: string, cause: unknown): RiverlogError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new RiverlogError('READ_FAILED', `Reading Kafka log ${uri} failed: ${reason}`, { cause });
}

/** Where each wanted partition starts (and, for a finite read, ends). */
async function startingPoints(
  ctx: KafkaLogContext,
  wanted: readonly number[],
  options: ReadOptions,
  follow: boolean,
): Promise<Map<number, PartitionRead>> {
  const watermarks = new Map((await ctx.admin.fetchTopicOffsets(ctx.topic)).map((o) => [o.partition, o]));
  let byTime: Map<number, bigint> | undefined;
  const states = new Map<number, PartitionRead>();
  for (const partition of wanted) {
    const marks = watermarks.get(partition);
    const low = BigInt(marks?.low ?? '0');
    const high = BigInt(marks?.high ?? '0');
    const start = resolveStart(options.from, String(partition));
    let next: bigint;
    switch (start.kind) {
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
          (await ctx.admin.fetchTopicOffsetsByTimestamp(ctx.topic, start.time)).map((o) => [o.partition, BigInt(o.offset)]),
        );
        next = byTime.get(partition) ?? high;
        break;
    }
    if (next < low) next = low;
    const end = follow ? undefined : high;
    states.set(partition, { next, end, done: end !== undefined && next >= end });
  }
  return states;
}
