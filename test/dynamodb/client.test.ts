import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  CreateTableCommand,
  DeleteTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { backoffPolicy } from '@riverlog/core';
import { batchWriteAll, isRetryableDynamoError, localDynamoClient, sendRetrying } from '@riverlog/dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

const fast = backoffPolicy({ initialMs: 1, maxMs: 5 });

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

describe('DynamoDB client helpers (no server)', () => {
  it('classes throttling, 5xx and dropped connections as retryable, and nothing else', () => {
    for (const name of ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']) {
      expect(isRetryableDynamoError(awsError(name, 400))).toBe(true);
    }
    expect(isRetryableDynamoError(awsError('InternalServerError', 500))).toBe(true);
    expect(isRetryableDynamoError(awsError('Whatever', 503))).toBe(true);
    expect(isRetryableDynamoError(awsError('ConditionalCheckFailedException', 400))).toBe(false);
    expect(isRetryableDynamoError(awsError('ResourceNotFoundException', 400))).toBe(false);
    expect(isRetryableDynamoError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRetryableDynamoError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableDynamoError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(true);
  });

  it('retries throttling until it passes, reporting each wait, and rejects other errors at once', async () => {
    let calls = 0;
    const fake = {
      send: async () => {
        calls++;
        if (calls <= 3) throw awsError('ThrottlingException', 400);
        return { ok: calls };
      },
    } as unknown as DynamoDBClient;
    const waits: number[] = [];
    const out = await sendRetrying(fake, new GetItemCommand({ TableName: 'x', Key: {} }), {
      policy: fast,
      onRetry: (r) => waits.push(r.attempt),
    });
    expect(out).toEqual({ ok: 4 });
    expect(waits).toEqual([1, 2, 3]);

    let refused = 0;
    const failing = {
      send: async () => {
        refused++;
        throw awsError('ConditionalCheckFailedException', 400);
      },
    } as unknown as DynamoDBClient;
    await expect(sendRetrying(failing, new GetItemCommand({ TableName: 'x', Key: {} }), { policy: fast })).rejects.toThrow(
      'ConditionalCheckFailedException',
    );
    expect(refused).toBe(1);
  });

  it('checks its options', () => {
    expect(() => localDynamoClient('127.0.0.1:4567')).toThrow(/INVALID_OPTION|http\(s\) URL/);
  });
});

describeDynamo('DynamoDB client helpers on the engine', () => {
  const client = dynamoClient();
  const table = uniqueTable('client');
  beforeAll(async () => {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  });
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: table }));
    client.destroy();
  });

  it('batchWriteAll writes every item although each call leaves half of it unprocessed', async () => {
    let calls = 0;
    // Writes the first half of each call for real and hands the rest back, as a throttled table does.
    const halving = {
      send: async (command: unknown) => {
        calls++;
        if (!(command instanceof BatchWriteItemCommand)) return client.send(command as never);
        const input = command.input as BatchWriteItemCommandInput;
        const done: BatchWriteItemCommandInput['RequestItems'] = {};
        const left: BatchWriteItemCommandInput['RequestItems'] = {};
        for (const [name, requests] of Object.entries(input.RequestItems ?? {})) {
          const half = Math.ceil(requests.length / 2);
          done[name] = requests.slice(0, half);
          if (requests.length > half) left[name] = requests.slice(half);
        }
        await client.send(new BatchWriteItemCommand({ RequestItems: done }));
        return { UnprocessedItems: left };
      },
    } as unknown as DynamoDBClient;
    const items = Array.from({ length: 260 }, (_, i) => ({ PutRequest: { Item: { k: { S: `k${i}` }, v: { N: String(i) } } } }));
    await batchWriteAll(halving, { [table]: items }, { policy: fast, concurrency: 3 });
    const scan = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
    expect(scan.Count).toBe(260);
    expect(new Set(scan.Items?.map((i) => i.k?.S)).size).toBe(260);
    expect(calls).toBeGreaterThan(260 / 25);
  });
});
