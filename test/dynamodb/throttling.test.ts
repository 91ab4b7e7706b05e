// Throttling: the checkpoint, lease and dead-letter stores behind a client that
// fails 30% of calls with throttling errors (and halves every BatchWriteItem)
// still pass their contract suites, unchanged. The lease store also survives
// answers lost after the write was applied (a 500 on the way back).
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore } from '@riverlog/dynamodb';
import { describeCheckpointStoreContract, describeDeadLetterSinkContract, describeLeaseStoreContract } from '@riverlog/testing';
import { afterAll, expect, it } from 'vitest';
import { type FaultOptions, faultyClient } from './faults.js';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

const retry = { initialMs: 1, maxMs: 20 };
const counted: { faults: { calls: number; throttled: number; lostAnswers: number } }[] = [];

function fresh(what: string, faults: FaultOptions = {}) {
  const table = uniqueTable(what);
  const reals: DynamoDBClient[] = [];
  const connect = (seed: number) => {
    const real = dynamoClient();
    reals.push(real);
    const client = faultyClient(real, { seed, ...faults });
    counted.push(client);
    return { client, table, createTable: true, retry };
  };
  const cleanup = async () => {
    await reals[0]?.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    for (const real of reals) real.destroy();
  };
  let seed = 1;
  return { connect: () => connect(seed++), cleanup };
}

describeDynamo('DynamoDB stores, 30% of calls throttled', () => {
  describeLeaseStoreContract('dynamodb lease store, throttled, answers lost', async () => {
    // About one write in three is applied and then answered with a 500: a retried take must recognise its own write.
    const { connect, cleanup } = fresh('leases-throttled', { lostAnswers: 0.3 });
    return {
      store: dynamoLeaseStore(connect()),
      connect: async () => dynamoLeaseStore(connect()),
      reopen: async () => dynamoLeaseStore(connect()),
      cleanup,
    };
  });

  describeCheckpointStoreContract('dynamodb checkpoint store, throttled, answers lost', async () => {
    const { connect, cleanup } = fresh('checkpoints-throttled', { lostAnswers: 0.3 });
    return {
      store: dynamoCheckpointStore(connect()),
      connect: async () => dynamoCheckpointStore(connect()),
      reopen: async () => dynamoCheckpointStore(connect()),
      cleanup,
    };
  });

  describeDeadLetterSinkContract('dynamodb dead letters, throttled, answers lost', async () => {
    const { connect, cleanup } = fresh('dead-letters-throttled', { lostAnswers: 0.3 });
    const sink = dynamoDeadLetters(connect());
    return {
      sink,
      stored: async () => dynamoDeadLetters(connect()).list(),
      cleanup,
    };
  });

  afterAll(() => {
    const total = counted.reduce(
      (sum, { faults }) => ({
        calls: sum.calls + faults.calls,
        throttled: sum.throttled + faults.throttled,
        lostAnswers: sum.lostAnswers + faults.lostAnswers,
      }),
      { calls: 0, throttled: 0, lostAnswers: 0 },
    );
    console.info(`throttled stores: ${JSON.stringify(total)}`);
  });

  it('the faults were injected (the suites above ran under them)', () => {
    // Runs last in this block: the suites' clients have counted their calls by now.
    const calls = counted.reduce((sum, { faults }) => sum + faults.calls, 0);
    const throttled = counted.reduce((sum, { faults }) => sum + faults.throttled, 0);
    const lost = counted.reduce((sum, { faults }) => sum + faults.lostAnswers, 0);
    expect(calls).toBeGreaterThan(200);
    expect(throttled / calls).toBeGreaterThan(0.2);
    expect(lost).toBeGreaterThan(5);
  });
});
