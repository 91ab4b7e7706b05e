// What the kinesis-extras tests share: the emulators of this run, raw SDK clients, unique streams,
// a raw read of a whole stream, a client that records which API actions it called.
import {
  type _Record,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { ulid } from '@riverlog/core';
import { until } from '@riverlog/testing';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, inject } from 'vitest';
import type { KinesisTestEndpoint } from '../setup/kinesis.js';

export { until };

const engines = inject('kinesis');
export const kinesalite: KinesisTestEndpoint = engines.kinesalite;
export const kinesisLocal: KinesisTestEndpoint = engines.kinesisLocal;

/** `describe` when the emulator is there, else `describe.skip` with its reason printed once. */
export function describeOn(engine: KinesisTestEndpoint, name: string): typeof describe {
  if (engine.endpoint) return describe;
  console.warn(`${name} tests skip: ${engine.reason}`);
  return describe.skip as typeof describe;
}

/** A raw SDK client on the emulator (HTTP/1.1: kinesalite refuses HTTP/2, kinesis-local serves SubscribeToShard over it). */
export function rawClient(engine: KinesisTestEndpoint): KinesisClient {
  if (!engine.endpoint) throw new Error(`no emulator: ${engine.reason}`);
  return new KinesisClient({
    endpoint: engine.endpoint,
    region: engine.region,
    credentials: { accessKeyId: 'riverlog', secretAccessKey: 'riverlog' },
    requestHandler: new NodeHttpHandler(),
    // Throttling is the tests' business: no SDK retries hiding it.
    maxAttempts: 1,
  });
}

/** Records the API action of every call the client makes (`PutRecords`, …), in order. */
export function recordActions(client: KinesisClient): string[] {
  const actions: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      actions.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'riverlogTestRecordActions' },
  );
  return actions;
}

export function uniqueStream(what: string): string {
  return `riverlog-${what}-${ulid().toLowerCase()}`;
}

/** Creates a stream with the raw client and waits until it is ACTIVE. */
export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await until(
    async () =>
      (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE',
    `stream ${name} active`,
  );
}

export async function listShards(client: KinesisClient, stream: string): Promise<Shard[]> {
  return (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
}

/** Every record of every shard, read with GetRecords from TRIM_HORIZON to the end as it is now. */
export async function readRaw(client: KinesisClient, stream: string): Promise<Map<string, _Record[]>> {
  const byShard = new Map<string, _Record[]>();
  for (const shard of await listShards(client, stream)) {
    const shardId = shard.ShardId as string;
    const records: _Record[] = [];
    let iterator = (
      await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...(page.Records ?? []));
      iterator = page.NextShardIterator;
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
    }
    byShard.set(shardId, records);
  }
  return byShard;
}
