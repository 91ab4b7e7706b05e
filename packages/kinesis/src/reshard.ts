import {
  DescribeStreamSummaryCommand,
  type KinesisClient,
  MergeShardsCommand,
  type Shard,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { type PartitionInfo, RiverlogError, retryForever } from '@riverlog/core';
import { describeError, errorName, isRetriableRead } from './aws-errors.js';
import { listShards, partitionOf, type StreamRef, streamParams } from './stream.js';

/** What a reshard needs: the connected client and stream, and how long to wait for the stream to be ACTIVE again. */
export interface ReshardContext {
  readonly client: KinesisClient;
  readonly stream: StreamRef;
  readonly uri: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

class Updating extends Error {}

/** Waits until the stream is ACTIVE (a reshard makes it UPDATING a while) and ListShards names `wanted`. */
async function settled(context: ReshardContext, wanted: (shards: Shard[]) => boolean): Promise<Shard[]> {
  return retryForever(
    async () => {
      const { StreamDescriptionSummary: summary } = await context.client.send(
        new DescribeStreamSummaryCommand(streamParams(context.stream)),
      );
      if (summary?.StreamStatus !== 'ACTIVE') throw new Updating(`stream is ${summary?.StreamStatus}`);
      const shards = await listShards(context.client, context.stream);
      if (!wanted(shards)) throw new Updating('the new shards are not listed yet');
      return shards;
    },
    {
      retryable: (error) => error instanceof Updating || isRetriableRead(error) || errorName(error) === 'ResourceInUseException',
      signal: AbortSignal.any([context.signal, AbortSignal.timeout(context.timeoutMs)]),
    },
  );
}

function openShard(shards: readonly Shard[], id: string, what: string, uri: string): Shard {
  const shard = shards.find((s) => s.ShardId === id);
  if (!shard || shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) {
    const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined).map((s) => s.ShardId);
    throw new RiverlogError(
      'INVALID_OPTION',
      `${what}: ${uri} has no open shard ${JSON.stringify(id)}; its open shards are ${open.join(', ')}.`,
    );
  }
  return shard;
}

function failed(what: string, uri: string, error: unknown): unknown {
  if (error instanceof RiverlogError) return error;
  return new RiverlogError('LOG_WRITE_FAILED', `${what} on ${uri} failed: ${describeError(error)}.`, { cause: error });
}

/** Splits an open shard at the middle of its hash range; resolves with its two children once listed. */
export async function splitShard(context: ReshardContext, shardId: string): Promise<PartitionInfo[]> {
  const what = `split(${JSON.stringify(shardId)})`;
  try {
    const shard = openShard(await settled(context, () => true), shardId, what, context.uri);
    const low = BigInt(shard.HashKeyRange?.StartingHashKey ?? '0');
    const high = BigInt(shard.HashKeyRange?.EndingHashKey ?? '0');
    if (high - low < 1n) throw new RiverlogError('INVALID_OPTION', `${what}: the shard's hash range cannot be split further.`);
    const middle = low + (high - low + 1n) / 2n;
    await context.client.send(
      new SplitShardCommand({ ...streamParams(context.stream), ShardToSplit: shardId, NewStartingHashKey: middle.toString() }),
    );
    const shards = await settled(
      context,
      (listed) => listed.filter((s) => s.ParentShardId === shardId && !s.AdjacentParentShardId).length === 2,
    );
    return shards.filter((s) => s.ParentShardId === shardId && !s.AdjacentParentShardId).map(partitionOf);
  } catch (error) {
    throw failed(what, context.uri, error);
  }
}

/** Merges two open shards with adjacent hash ranges; resolves with the child once listed. */
export async function mergeShards(context: ReshardContext, a: string, b: string): Promise<PartitionInfo> {
  const what = `merge(${JSON.stringify(a)}, ${JSON.stringify(b)})`;
  try {
    const shards = await settled(context, () => true);
    const [first, second] = [openShard(shards, a, what, context.uri), openShard(shards, b, what, context.uri)].sort((x, y) =>
      BigInt(x.HashKeyRange?.StartingHashKey ?? '0') < BigInt(y.HashKeyRange?.StartingHashKey ?? '0') ? -1 : 1,
    ) as [Shard, Shard];
    if (BigInt(first.HashKeyRange?.EndingHashKey ?? '0') + 1n !== BigInt(second.HashKeyRange?.StartingHashKey ?? '0')) {
      throw new RiverlogError('INVALID_OPTION', `${what}: the shards' hash ranges are not adjacent; Kinesis merges only adjacent shards.`);
    }
    await context.client.send(
      new MergeShardsCommand({ ...streamParams(context.stream), ShardToMerge: first.ShardId, AdjacentShardToMerge: second.ShardId }),
    );
    const isChild = (s: Shard) =>
      (s.ParentShardId === first.ShardId && s.AdjacentParentShardId === second.ShardId) ||
      (s.ParentShardId === second.ShardId && s.AdjacentParentShardId === first.ShardId);
    const listed = await settled(context, (all) => all.some(isChild));
    return partitionOf(listed.find(isChild) as Shard);
  } catch (error) {
    throw failed(what, context.uri, error);
  }
}
