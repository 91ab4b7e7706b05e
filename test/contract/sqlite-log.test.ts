import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLog } from '@riverlog/sqlite';
import { describeEventLogContract } from '@riverlog/testing';

async function sqliteFile(options: { partitions?: number; maxEventBytes?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-contract-sqlite-'));
  const path = join(dir, 'log.db');
  return {
    log: sqliteLog({ path, ...options }),
    reopen: async () => sqliteLog({ path, ...options }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

describeEventLogContract('sqlite log, default options', () => sqliteFile());
describeEventLogContract('sqlite log, 1 partition, 64 KiB events', () => sqliteFile({ partitions: 1, maxEventBytes: 64 * 1024 }));
