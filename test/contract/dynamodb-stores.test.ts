import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoLeaseStore } from '@riverlog/dynamodb';
import { describeCheckpointStoreContract, describeDeadLetterSinkContract, describeLeaseStoreContract } from '@riverlog/testing';
import { describeDynamo, dynamoClient, uniqueTable } from '../dynamodb/support.js';

/** A fresh table name, one client per connection (as separate processes would have), and how to drop it all. */
function fresh(what: string) {
  const table = uniqueTable(what);
  const clients = [dynamoClient()];
  const connect = () => {
    const client = dynamoClient();
    clients.push(client);
    return { client, table, createTables: true };
  };
  const cleanup = async () => {
    await clients[0]?.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    for (const client of clients) client.destroy();
  };
  return { options: { client: clients[0] as ReturnType<typeof dynamoClient>, table, createTables: true }, connect, cleanup };
}

describeDynamo('DynamoDB stores on the engine', () => {
  describeLeaseStoreContract('dynamodb lease store', async () => {
    const { options, connect, cleanup } = fresh('leases');
    return {
      store: dynamoLeaseStore(options),
      connect: async () => dynamoLeaseStore(connect()),
      reopen: async () => dynamoLeaseStore(connect()),
      cleanup,
    };
  });

  describeCheckpointStoreContract('dynamodb checkpoint store', async () => {
    const { options, connect, cleanup } = fresh('checkpoints');
    return {
      store: dynamoCheckpointStore(options),
      connect: async () => dynamoCheckpointStore(connect()),
      reopen: async () => dynamoCheckpointStore(connect()),
      cleanup,
    };
  });

  describeDeadLetterSinkContract('dynamodb dead letters', async () => {
    const { options, connect, cleanup } = fresh('dead-letters');
    const sink = dynamoDeadLetters(options);
    return {
      sink,
      // Read through another client: what is there once send resolved is stored.
      stored: async () => {
        const reader = dynamoDeadLetters(connect());
        try {
          return await reader.list();
        } finally {
          await reader.close();
        }
      },
      cleanup: async () => {
        await sink.close();
        await cleanup();
      },
    };
  });
});
