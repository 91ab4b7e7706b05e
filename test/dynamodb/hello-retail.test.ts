// The Hello Retail views on DynamoDB over the SQLite log, equal to the same views on SQLite.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLog } from '@riverlog/sqlite';
import { it } from 'vitest';
import { playOnDynamoAndCompare } from './hello-retail-compare.js';
import { describeDynamo } from './support.js';

describeDynamo('the Hello Retail demo with its views in DynamoDB', () => {
  it('RIVERLOG_STORE=dynamodb://… over a SQLite log: every view (and the rebuilt one) equals the same view folded on SQLite, row by row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-hello-retail-log-'));
    try {
      const path = join(dir, 'retail.db');
      await playOnDynamoAndCompare(`sqlite:${path}?partitions=3`, () => sqliteLog({ path }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
