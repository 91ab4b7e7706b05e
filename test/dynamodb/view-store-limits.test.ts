// The DynamoDB view store's 400 KB item: a row whose item would not fit is
// refused with ROW_TOO_LARGE naming the view table, the key and the size,
// before anything is sent — also when the value is under maxRowBytes and
// its characters take several bytes each.
import type { RiverlogError } from '@riverlog/core';
import { dynamoViewStore } from '@riverlog/dynamodb';
import { expect, it } from 'vitest';
import { describeDynamo, dynamoClient, uniqueTable } from './support.js';

describeDynamo('DynamoDB view store: items over 400 KB', () => {
  it('a value of 3-byte characters under maxRowBytes with large applied marks is ROW_TOO_LARGE, nothing written', async () => {
    const prefix = `${uniqueTable('big')}.`;
    const store = dynamoViewStore({ client: dynamoClient(), prefix, createTables: true });
    await store.createTable('big@1', { indexes: [], idWindow: 0 });
    const value = '\u20ac'.repeat(133_000); // 399,002 bytes of JSON: under the store's 400,000
    const applied = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`partition-${i}`, '1000000']));
    const error = (await store
      .commit('big@1', { rows: [{ key: 'k1', value, applied, expectedVersion: 0 }], ids: [], positions: {} })
      .catch((e) => e)) as RiverlogError;
    expect(error.code).toBe('ROW_TOO_LARGE');
    expect(error.message).toContain('big@1');
    expect(error.message).toContain('"k1"');
    expect(error.message).toMatch(/would be 4\d\d,?\d\d\d bytes/);
    expect((await store.rows('big@1', ['k1'])).size).toBe(0);
    await store.drop('big@1');
  });
});
