// The one URI parser of @riverlog/dynamodb and the stores it opens.
import { DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ulid } from '@riverlog/core';
import {
  dynamoCheckpointStoreFromUri,
  dynamoDeadLettersFromUri,
  dynamoLeaseStoreFromUri,
  dynamoOptionsFromUri,
  dynamoViewStoreFromUri,
} from '@riverlog/dynamodb';
import { describe, expect, it } from 'vitest';
import { describeDynamo, dynamoClient, endpoint } from './support.js';

describe('dynamoOptionsFromUri', () => {
  it('reads a local endpoint, AWS, and the parameters with their defaults', () => {
    expect(dynamoOptionsFromUri('dynamodb://127.0.0.1:4567?prefix=retail.')).toEqual({
      endpoint: 'http://127.0.0.1:4567',
      prefix: 'retail.',
      table: 'retail.state',
      createTables: false,
    });
    expect(dynamoOptionsFromUri('dynamodb://localhost:8000/?table=my-state&region=eu-west-1&createTables=true')).toEqual({
      endpoint: 'http://localhost:8000',
      region: 'eu-west-1',
      prefix: 'riverlog.',
      table: 'my-state',
      createTables: true,
    });
    const aws = { region: 'eu-west-1', prefix: 'riverlog.', table: 'riverlog.state', createTables: false };
    expect(dynamoOptionsFromUri('dynamodb:?region=eu-west-1')).toEqual(aws);
    expect(dynamoOptionsFromUri('dynamodb://?region=eu-west-1')).toEqual(aws);
    expect(dynamoOptionsFromUri('DynamoDB:')).toEqual({ prefix: 'riverlog.', table: 'riverlog.state', createTables: false });
  });

  it.each([
    ['kafka://127.0.0.1:9092/t', /the scheme is "kafka:", not "dynamodb:"/],
    ['dynamodb://127.0.0.1:4567/views', /it has a path/],
    ['dynamodb://bad host', /"bad host" is not a host\[:port\]/],
    ['dynamodb:?prefx=a.', /unknown parameter "prefx" \(did you mean "prefix"\?\)/],
    ['dynamodb:?prefix=a/b', /prefix must be up to 200 of/],
    ['dynamodb:?table=x', /table must be a DynamoDB table name/],
    ['dynamodb:?createTables=yes', /createTables must be true or false, got "yes"/],
    ['dynamodb:?region=', /region is empty/],
  ])('refuses %s with INVALID_OPTION saying why and what it expects', (uri, why) => {
    let error: { code?: string; message?: string } = {};
    try {
      dynamoOptionsFromUri(uri);
    } catch (caught) {
      error = caught as typeof error;
    }
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toMatch(why);
    expect(error.message).toContain('Expected dynamodb://<host:port>');
  });
});

describeDynamo('the *FromUri stores', () => {
  it('open every store on one URI: views under the prefix, the rest in <prefix>state; close() ends them', async () => {
    const prefix = `uri${ulid().toLowerCase()}.`;
    const uri = `${(endpoint as string).replace(/^http:/, 'dynamodb:')}?prefix=${prefix}&createTables=true`;
    const store = dynamoViewStoreFromUri(uri);
    const checkpoints = dynamoCheckpointStoreFromUri(uri);
    const leases = dynamoLeaseStoreFromUri(uri);
    const deadLetters = dynamoDeadLettersFromUri(uri);
    const admin = dynamoClient();
    try {
      await store.createTable('products@1', { indexes: [], idWindow: 10 });
      await store.commit('products@1', {
        rows: [{ key: 'p1', value: { n: 1 }, applied: { '0': '0' }, expectedVersion: 0 }],
        ids: ['e1'],
        positions: { '0': '0' },
      });
      await checkpoints.save('g', { '0': '3' });
      expect(await leases.take('g', '0', 'me', undefined)).toMatchObject({ owner: 'me', epoch: 1 });
      expect(await deadLetters.list('g')).toEqual([]);
      expect(await store.tables()).toEqual(['products@1']);
      const tables = ((await admin.send(new ListTablesCommand({}))).TableNames ?? []).filter((name) => name.startsWith(prefix));
      expect(tables.sort()).toEqual([`${prefix}state`, `${prefix}view.products.v1`]);

      // The same names opened without createTables find what is there.
      const reader = dynamoCheckpointStoreFromUri(uri.replace('&createTables=true', ''));
      expect(await reader.load('g')).toEqual({ '0': '3' });
      await reader.close();
      const missing = dynamoCheckpointStoreFromUri(uri.replace(`prefix=${prefix}&createTables=true`, `prefix=none${prefix}`));
      await expect(missing.load('g')).rejects.toMatchObject({
        code: 'STORE_OPEN_FAILED',
        message: expect.stringContaining(`none${prefix}state`),
      });
      await missing.close();
    } finally {
      await Promise.all([store.close(), checkpoints.close(), leases.close(), deadLetters.close()]);
      for (const name of (await admin.send(new ListTablesCommand({}))).TableNames ?? []) {
        if (name.startsWith(prefix)) await admin.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
      }
      admin.destroy();
    }
    await expect(store.get('products@1', 'p1')).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(checkpoints.load('g')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
