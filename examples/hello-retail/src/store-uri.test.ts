import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStores, withCreateTables } from './store-uri.js';

describe('openStores', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hello-retail-store-uri-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens views, checkpoints and dead letters in one SQLite file', async () => {
    const stores = openStores(`sqlite:${join(dir, 'views.db')}`);
    try {
      await stores.checkpoints.save('g', { '0': '5' });
      expect(await stores.checkpoints.load('g')).toEqual({ '0': '5' });
      expect(await stores.deadLetters.list()).toEqual([]);
    } finally {
      await stores.close();
    }
  });

  it('opens DynamoDB stores through @riverlog/dynamodb without a call to the server (factories are lazy)', async () => {
    const stores = openStores('dynamodb://127.0.0.1:1?prefix=hr.');
    expect(stores.uri).toBe('dynamodb://127.0.0.1:1?prefix=hr.');
    await stores.close();
    await expect(stores.checkpoints.load('g')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it("refuses a DynamoDB URI the package's parser refuses, naming the parameter", () => {
    expect(() => openStores('dynamodb://127.0.0.1:1?prefx=hr.')).toThrow(/unknown parameter "prefx" \(did you mean "prefix"\?\)/);
    expect(() => openStores('dynamodb://127.0.0.1:1?createTables=yes')).toThrow(/createTables must be true or false/);
  });

  it('creates tables unless the URI says createTables itself', () => {
    expect(withCreateTables('dynamodb://h:1')).toBe('dynamodb://h:1?createTables=true');
    expect(withCreateTables('dynamodb:?region=eu-west-1')).toBe('dynamodb:?region=eu-west-1&createTables=true');
    expect(withCreateTables('dynamodb://h:1?createTables=false')).toBe('dynamodb://h:1?createTables=false');
  });

  it('refuses an unknown scheme with the forms it takes', () => {
    expect(() => openStores('mongodb://x')).toThrow(/unknown scheme.*sqlite:<path>.*dynamodb:\/\/<host:port>\?prefix=<p>/);
  });
});
