// What the Kinesis log tests share: the emulators of this run, unique streams, logs on them.
import { DeleteStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { ulid } from '@riverlog/core';
import { type KinesisLog, type KinesisLogOptions, kinesisLog } from '@riverlog/kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, inject } from 'vitest';
import type { KinesisTestEndpoint } from '../setup/kinesis.js';

const engines = inject('kinesis');
export const kinesalite: KinesisTestEndpoint = engines.kinesalite;
export const kinesisLocal: KinesisTestEndpoint = engines.kinesisLocal;

/** `describe` when the emulator is there, else `describe.skip`, its reason printed once. */
export function describeOn(engine: KinesisTestEndpoint, what: string): typeof describe {
  if (engine.endpoint) return describe;
  console.warn(`${what} tests skip: ${engine.reason}`);
  return describe.skip as typeof describe;
}

/** A stream name no other test uses. */
export function uniqueStream(what: string): string {
  return `riverlog-${what}-${ulid().toLowerCase()}`;
}

/**
 * Fast settings for tests on an emulator: a short wait at the tip, and a
 * read budget an emulator takes (the default is Kinesis's 5 calls per second
 * per shard, tested on its own in log-polling.test.ts).
 */
export const FAST: Pick<KinesisLogOptions, 'pollIntervalMs' | 'readLimits' | 'retry'> = {
  pollIntervalMs: 25,
  readLimits: { callsPerSecond: 100 },
  retry: { initialMs: 10, maxMs: 200 },
};

/** A log on a new stream of `shards` shards on `engine`, with FAST settings unless overridden. */
export function streamLog(
  engine: KinesisTestEndpoint,
  stream: string,
  shards: number,
  options: Partial<KinesisLogOptions> = {},
): KinesisLog {
  if (!engine.endpoint) throw new Error(`no emulator: ${engine.reason}`);
  return kinesisLog({ endpoint: engine.endpoint, region: engine.region, stream, createStream: { shards }, ...FAST, ...options });
}

/** A raw SDK client on the emulator. */
export function rawClient(engine: KinesisTestEndpoint): KinesisClient {
  if (!engine.endpoint) throw new Error(`no emulator: ${engine.reason}`);
  return new KinesisClient({
    endpoint: engine.endpoint,
    region: engine.region,
    credentials: { accessKeyId: 'riverlog', secretAccessKey: 'riverlog' },
    requestHandler: new NodeHttpHandler(),
  });
}

export async function deleteStream(engine: KinesisTestEndpoint, stream: string): Promise<void> {
  const client = rawClient(engine);
  try {
    await client.send(new DeleteStreamCommand({ StreamName: stream, EnforceConsumerDeletion: true }));
  } catch {
    // Never created, or gone.
  } finally {
    client.destroy();
  }
}
