import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLeaseStore } from '@riverlog/sqlite';
import { describeCheckpointStoreContract, describeDeadLetterSinkContract, describeLeaseStoreContract } from '@riverlog/testing';

/** A fresh file in a new directory, and how to remove it. */
function tempFile(name: string): { path: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'riverlog-contract-'));
  return { path: join(dir, name), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

// Every connection opens the same file, as separate processes would.
describeLeaseStoreContract('sqlite lease store', async () => {
  const { path, cleanup } = tempFile('leases.db');
  return {
    store: sqliteLeaseStore({ path }),
    connect: async () => sqliteLeaseStore({ path }),
    reopen: async () => sqliteLeaseStore({ path }),
    cleanup,
  };
});

describeCheckpointStoreContract('sqlite checkpoint store', async () => {
  const { path, cleanup } = tempFile('checkpoints.db');
  return {
    store: sqliteCheckpointStore({ path }),
    connect: async () => sqliteCheckpointStore({ path }),
    reopen: async () => sqliteCheckpointStore({ path }),
    cleanup,
  };
});

describeDeadLetterSinkContract('sqlite dead letters', async () => {
  const { path, cleanup } = tempFile('dead-letters.db');
  const sink = sqliteDeadLetters({ path });
  return {
    sink,
    // Read through a new connection: what is there once send resolved is on disk.
    stored: async () => {
      const reader = sqliteDeadLetters({ path });
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
