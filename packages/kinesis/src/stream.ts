// The stream's control plane: describe, create, wait until usable, list shards.

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
  type StreamDescriptionSummary,
} from '@aws-sdk/client-kinesis';
import type { PartitionInfo } from '@riverlog/core';

/** A stream as the user named it. kinesalite takes no StreamARN as identifier: the name always goes along. */
export interface StreamRef {
  readonly name: string;
  /** Given when the user named the stream by ARN (cross-account access needs it). */
  readonly arn: string | undefined;
}

/** How to create the stream when it does not exist (for development). */
export interface KinesisStreamSpec {
  /** Provisioned shards. Default 1 (unless `onDemand`). */
  readonly shards?: number;
  /** On-demand capacity mode instead of provisioned shards (kinesis-local and AWS; kinesalite has none). */
  readonly onDemand?: boolean;
}

const ARN = /^arn:aws[a-z-]*:kinesis:[^:]*:\d*:stream\/([a-zA-Z0-9_.-]{1,128})$/;
const NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

/** The stream reference for a name or an ARN; undefined when it is neither. */
export function streamRef(stream: string): StreamRef | undefined {
  const fromArn = ARN.exec(stream);
  if (fromArn) return { name: fromArn[1] as string, arn: stream };
  return NAME.test(stream) ? { name: stream, arn: undefined } : undefined;
}

/** The identifying parameters of a request about the stream. */
export function streamParams(ref: StreamRef): { StreamName: string; StreamARN?: string } {
  return ref.arn === undefined ? { StreamName: ref.name } : { StreamName: ref.name, StreamARN: ref.arn };
}

export async function describeStream(client: KinesisClient, ref: StreamRef): Promise<StreamDescriptionSummary> {
  const { StreamDescriptionSummary: summary } = await client.send(new DescribeStreamSummaryCommand(streamParams(ref)));
  if (!summary) throw new Error('DescribeStreamSummary answered without a StreamDescriptionSummary');
  return summary;
}

/** Creates the stream; one that exists already (another process was first) is fine. */
export async function createStream(client: KinesisClient, ref: StreamRef, spec: KinesisStreamSpec): Promise<void> {
  try {
    await client.send(
      new CreateStreamCommand(
        spec.onDemand
          ? { StreamName: ref.name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }
          : { StreamName: ref.name, ShardCount: spec.shards ?? 1 },
      ),
    );
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
}

/** Every shard the stream lists now (closed ones within retention included), following NextToken. */
export async function listShards(client: KinesisClient, ref: StreamRef): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    // With a NextToken, Kinesis refuses the stream's name.
    const page = await client.send(new ListShardsCommand(token === undefined ? streamParams(ref) : { NextToken: token }));
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return shards;
}

/** A shard as a partition: its parents (adjacent parent of a merge included), closed once it has an ending sequence number. */
export function partitionOf(shard: Shard): PartitionInfo {
  const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => typeof id === 'string' && id !== '');
  return { id: shard.ShardId as string, parents, closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined };
}
