import { type GetShardIteratorCommandInput, KinesisClient } from '@aws-sdk/client-kinesis';
import { backoffPolicy } from '@riverlog/core';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopbackEndpoint } from './polling-reader.js';
import { ShardPoller } from './shard-poller.js';

const clients: KinesisClient[] = [];
afterAll(() => {
  for (const client of clients) client.destroy();
});
const clientFor = (endpoint: string | undefined) => {
  const client = new KinesisClient({ region: 'eu-west-1', ...(endpoint ? { endpoint } : {}) });
  clients.push(client);
  return client;
};

describe('isLoopbackEndpoint: where the AT_TIMESTAMP fallback (for kinesalite) applies', () => {
  it.each([
    ['http://127.0.0.1:4567', true],
    ['http://127.1.2.3:4567', true],
    ['http://localhost:4567', true],
    ['http://[::1]:4567', true],
    ['https://kinesis.eu-west-1.amazonaws.com', false],
    ['http://10.0.0.7:4567', false],
    [undefined, false],
  ])('%s → %s', async (endpoint, loopback) => {
    expect(await isLoopbackEndpoint(clientFor(endpoint))).toBe(loopback);
  });
});

/**
 * A Kinesis whose AT_TIMESTAMP GetShardIterator answers only after `slowMs`
 * (kinesalite: never; AWS: after slow SDK retries), recording the iterator types asked.
 */
function slowAtTimestamp(slowMs: number) {
  const asked: string[] = [];
  const client = {
    async send(command: { input: GetShardIteratorCommandInput & { ShardIterator?: string } }, options?: { abortSignal?: AbortSignal }) {
      const type = command.input.ShardIteratorType;
      if (type === undefined) return { Records: [], NextShardIterator: 'next', MillisBehindLatest: 0 };
      asked.push(type);
      if (type === 'AT_TIMESTAMP') {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, slowMs);
          options?.abortSignal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
          });
        });
      }
      return { ShardIterator: `iterator-${type}` };
    },
  } as unknown as KinesisClient;
  return { client, asked };
}

async function firstPage(client: KinesisClient, atTimestampPatienceMs: number | undefined) {
  const poller = new ShardPoller(
    'shardId-000000000000',
    {
      limits: { callsPerSecond: 5, bytesPerSecond: 2 * 1024 * 1024 },
      pollIntervalMs: 1_000,
      recordsPerCall: 100,
      atTimestampPatienceMs,
    },
    () => {},
  );
  const cursor = poller.hold('time:1', { type: 'AT_TIMESTAMP', timestamp: new Date(1) });
  const context = { client, stream: { name: 's', arn: undefined }, uri: 'kinesis://s', retry: backoffPolicy({ initialMs: 0, maxMs: 1 }) };
  await poller.fetch(cursor, 0, context, new AbortController().signal);
  poller.release(cursor);
  return cursor;
}

describe('ShardPoller: an AT_TIMESTAMP start slow to get its iterator', () => {
  it('without patience (any non-loopback endpoint, AWS included) waits for the AT_TIMESTAMP iterator: no TRIM_HORIZON read of the whole shard', async () => {
    const kinesis = slowAtTimestamp(150);
    const cursor = await firstPage(kinesis.client, undefined);
    expect(kinesis.asked).toEqual(['AT_TIMESTAMP']);
    expect(cursor.arrivedFrom).toBeUndefined();
  });

  it('with patience (a loopback emulator) reads from TRIM_HORIZON once it runs out, dropping what arrived before the time', async () => {
    const kinesis = slowAtTimestamp(60_000);
    const cursor = await firstPage(kinesis.client, 20);
    expect(kinesis.asked).toEqual(['AT_TIMESTAMP', 'TRIM_HORIZON']);
    expect(cursor.arrivedFrom).toBe(1);
  });
});
