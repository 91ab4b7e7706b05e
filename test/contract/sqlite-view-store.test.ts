import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { describeViewStoreContract } from '@riverlog/testing';

describeViewStoreContract('sqlite view store, own file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-contract-views-'));
  const path = join(dir, 'views.db');
  return {
    store: sqliteViewStore({ path }),
    reopen: async () => sqliteViewStore({ path }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeViewStoreContract('sqlite view store, on the log connection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-contract-views-'));
  const path = join(dir, 'log.db');
  const log = sqliteLog({ path });
  return {
    store: sqliteViewStore({ database: log.database }),
    reopen: async () => sqliteViewStore({ path }),
    cleanup: async () => {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
