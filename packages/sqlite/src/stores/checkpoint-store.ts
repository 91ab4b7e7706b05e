import type { CheckpointStore, PositionMap } from '@riverlog/core';
import { openStoreConnection, type SqliteSource } from '../connection.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_checkpoints (
  group_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  last_offset TEXT NOT NULL,
  PRIMARY KEY (group_name, partition_id)
) WITHOUT ROWID;
`;

/**
 * Consumer-group checkpoints in an SQLite table (`riverlog_checkpoints`),
 * in their own file or beside the log. `save` is one transaction.
 *
 * @example
 * import { sqliteCheckpointStore, sqliteLog } from '@riverlog/sqlite';
 *
 * const log = sqliteLog({ path: 'data/retail.db' });
 * const checkpoints = sqliteCheckpointStore({ database: log.database });
 * await checkpoints.save('emailer', { '0': '41' });
 * await checkpoints.load('emailer'); // { '0': '41' }
 */
export function sqliteCheckpointStore(source: SqliteSource): CheckpointStore {
  // In its own file, checkpoints are written with synchronous=NORMAL: in WAL mode a process crash
  // loses nothing, and what a power loss could take back is a checkpoint, which only means
  // records delivered again (at least once), never lost. A FULL fsync per save stalled the
  // consumer's event loop for a quarter of its time (bench/suites/25-consumer.mjs).
  const connection = openStoreConnection(source, 'sqliteCheckpointStore', SCHEMA, 'NORMAL');
  const { db } = connection;
  const select = db.prepare('SELECT partition_id, last_offset FROM riverlog_checkpoints WHERE group_name = ?').raw();
  const upsert = db.prepare(
    'INSERT INTO riverlog_checkpoints (group_name, partition_id, last_offset) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_offset = excluded.last_offset',
  );
  const saveAll = db.transaction((group: string, positions: PositionMap) => {
    for (const [partition, offset] of Object.entries(positions)) upsert.run(group, partition, offset);
  });
  return {
    async load(group) {
      connection.ensureOpen();
      return Object.fromEntries(select.all(group) as [string, string][]);
    },
    async save(group, positions) {
      connection.ensureOpen();
      saveAll.immediate(group, positions);
    },
    async close() {
      connection.close();
    },
  };
}
