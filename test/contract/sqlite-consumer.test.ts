import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SqliteLog, sqliteCheckpointStore, sqliteLeaseStore, sqliteLog } from '@riverlog/sqlite';
import { describeConsumerContract } from '@riverlog/testing';

describeConsumerContract(
  'sqlite log, checkpoints and leases in the log file',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-consumer-contract-'));
    const log = sqliteLog({ path: join(dir, 'log.db') });
    return {
      log,
      checkpoints: sqliteCheckpointStore({ database: log.database }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { leases: (log) => sqliteLeaseStore({ database: (log as SqliteLog).database }) },
);

describeConsumerContract('sqlite log, checkpoints in their own file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-consumer-contract-'));
  return {
    log: sqliteLog({ path: join(dir, 'log.db'), partitions: 3 }),
    checkpoints: sqliteCheckpointStore({ path: join(dir, 'checkpoints.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
