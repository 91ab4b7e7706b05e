// Throttling: the checkpoint, lease and dead-letter stores behind a client that
// fails 30% of calls with throttling errors (and halves every BatchWriteItem)
// still pass their contract suites, unchanged, also when a third of the writes
// are answered with a 500 after they were applied. And a view built by two
// runners on the DynamoDB view store behind such a client equals a pure fold.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore, dynamoViewStore } from '@riverlog/dynamodb';
import { sqliteLog } from '@riverlog/sqlite';
import { describeCheckpointStoreContract, describeDeadLetterSinkContract, describeLeaseStoreContract } from '@riverlog/testing';
import { runView } from '@riverlog/view-builder';
import { afterAll, expect, it } from 'vitest';
import { ledgerView, makeEvents, pureFold } from '../fixtures/scale-model.mjs';
import { differences, readWholeLog, readWholeTable } from '../scale/support.js';
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
    return { client, table, createTables: true, retry };
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

describeDynamo('a view on DynamoDB, 30% of calls throttled and half of every BatchWriteItem unprocessed', () => {
  it('runView over a SQLite log (two runners sharing it through DynamoDB leases) equals a pure fold', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riverlog-dynamo-throttled-view-'));
    const real = dynamoClient();
    const prefix = `throttled-${Date.now().toString(36)}.`;
    const leaseTable = uniqueTable('throttled-view-leases');
    const log = sqliteLog({ path: join(dir, 'log.db'), partitions: 4 });
    try {
      await log.append(makeEvents(6_000, { seed: 5, customers: 200 }));
      // A small id window, so that pruning its chunks (the view store's one BatchWriteItem) runs, halved, during the build.
      const view = ledgerView({ idWindow: 300 });
      const clients = [1, 2].map((seed) => faultyClient(real, { seed }));
      const runners = clients.map((client, i) =>
        runView(view, {
          log,
          store: dynamoViewStore({ client, prefix, createTables: true, retry }),
          leases: { store: dynamoLeaseStore({ client, table: leaseTable, createTables: true, retry }), ttlMs: 3000, owner: `r${i}` },
          batchSize: 500,
          commitSize: 200,
        }),
      );
      await Promise.all(runners.map((runner) => runner.caughtUp({ timeoutMs: 150_000 })));
      await Promise.all(runners.map((runner) => runner.stop()));
      const reader = dynamoViewStore({ client: real, prefix });
      const { partitions } = await readWholeLog(log);
      const wrong = differences(await readWholeTable(reader, view.table), pureFold('ledger', [...partitions.values()]));
      expect(wrong.slice(0, 20)).toEqual([]);
      const throttled = clients.reduce((sum, c) => sum + c.faults.throttled, 0);
      const calls = clients.reduce((sum, c) => sum + c.faults.calls, 0);
      console.info(
        `throttled view: ${calls} calls, ${throttled} throttled, ${clients.reduce((s, c) => s + c.faults.unprocessed, 0)} batch items handed back`,
      );
      expect(throttled / calls).toBeGreaterThan(0.2);
      expect(clients.reduce((s, c) => s + c.faults.unprocessed, 0)).toBeGreaterThan(0);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
