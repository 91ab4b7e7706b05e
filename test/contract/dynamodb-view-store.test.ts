import { DeleteTableCommand, ListTablesCommand, type ListTablesCommandOutput } from '@aws-sdk/client-dynamodb';
import { ulid } from '@riverlog/core';
import { dynamoViewStore } from '@riverlog/dynamodb';
import { describeViewStoreContract } from '@riverlog/testing';
import { describeDynamo, dynamoClient } from '../dynamodb/support.js';

describeDynamo('DynamoDB view store on the engine', () => {
  describeViewStoreContract(
    'dynamodb view store',
    async () => {
      // A prefix of its own per test: its tables are the test's alone.
      const prefix = `t${ulid().toLowerCase()}.`;
      const clients = [dynamoClient()];
      const open = () => {
        const client = dynamoClient();
        clients.push(client);
        return dynamoViewStore({ client, prefix, createTables: true });
      };
      return {
        store: dynamoViewStore({ client: clients[0] as ReturnType<typeof dynamoClient>, prefix, createTables: true }),
        reopen: async () => open(),
        cleanup: async () => {
          const client = clients[0] as ReturnType<typeof dynamoClient>;
          let start: string | undefined;
          const names: string[] = [];
          do {
            const page: ListTablesCommandOutput = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
            names.push(...(page.TableNames ?? []).filter((name) => name.startsWith(prefix)));
            start = page.LastEvaluatedTableName;
          } while (start);
          for (const TableName of names) await client.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
          for (const c of clients) c.destroy();
        },
      };
    },
    { transactional: false },
  );
});
