import { type CheckpointStore, ClosedError, type PositionMap, RiverlogError } from '@riverlog/core';
import type { KafkaLogContext } from './context.js';

/**
 * A `CheckpointStore` on Kafka's own consumer-group offsets. A checkpoint is
 * the last finished offset; Kafka stores the next one to read, so offsets
 * are shifted by one on the way in and out.
 *
 * `save` goes through this log's live membership of the group when there is
 * one (a running `subscribe`, e.g. a consumer without leases), committing
 * only the partitions the member holds. Without a live member it writes
 * with the admin API, which Kafka allows only while the group has no members.
 */
export function groupOffsetCheckpoints(ctx: KafkaLogContext): CheckpointStore {
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new ClosedError('Kafka checkpoint store');
    ctx.ensureOpen();
  };
  return {
    async load(group) {
      ensureOpen();
      const topics = await ctx.admin.fetchOffsets({ groupId: group, topics: [ctx.topic] });
      const positions: Record<string, string> = {};
      for (const entry of topics.find((t) => t.topic === ctx.topic)?.partitions ?? []) {
        const next = BigInt(entry.offset);
        if (next > 0n) positions[String(entry.partition)] = (next - 1n).toString();
      }
      return positions;
    },
    async save(group, positions: PositionMap) {
      ensureOpen();
      const entries = Object.entries(positions);
      if (entries.length === 0) return;
      const member = ctx.memberCommitter(group);
      if (member) {
        await member(positions);
        return;
      }
      if (!ctx.admin.setOffsets) {
        throw new RiverlogError(
          'UNSUPPORTED',
          `Saving group ${JSON.stringify(group)}'s offsets on ${ctx.uri} needs a live member of the group (a running subscribe) with this client, which has no admin setOffsets.`,
        );
      }
      try {
        await ctx.admin.setOffsets({
          groupId: group,
          topic: ctx.topic,
          partitions: entries.map(([partition, offset]) => ({ partition: Number(partition), offset: (BigInt(offset) + 1n).toString() })),
        });
      } catch (error) {
        throw new RiverlogError(
          'CHECKPOINT_FAILED',
          `Saving group ${JSON.stringify(group)}'s offsets on ${ctx.uri} failed: ${(error as Error)?.message ?? String(error)}. Kafka accepts offsets from outside a group only while the group has no members.`,
          { cause: error },
        );
      }
    },
    async close() {
      closed = true;
    },
  };
}
