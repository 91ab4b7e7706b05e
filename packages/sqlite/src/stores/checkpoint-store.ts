import type { CheckpointStore, Fence, PositionMap } from '@riverlog/core';
import { checkFence } from '@riverlog/core/backend';
import { openStoreConnection, type SqliteSource } from '../connection.js';

/**
 * `_v2`: fenced checkpoints. A row holds a partition's offset (NULL after a
 * claim only) and the highest lease epoch it was written under (NULL when
 * never fenced). A pre-release file's `riverlog_checkpoints` is left alone.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_checkpoints_v2 (
  group_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  last_offset TEXT,
  epoch INTEGER,
  PRIMARY KEY (group_name, partition_id)
) WITHOUT ROWID;
`;

/**
 * Consumer-group checkpoints in an SQLite table (`riverlog_checkpoints_v2`),
 * in their own file or beside the log. `save` is one transaction: with a
 * fence, it is refused with `LeaseLostError` (nothing written) when a
 * partition was saved or claimed under a higher lease epoch, and otherwise
 * records the fence's epochs with the offsets.
 *
 * @example
 * import { sqliteCheckpointStore, sqliteLog } from '@riverlog/sqlite';
 *
 * const log = sqliteLog({ path: 'data/retail.db' });
 * const checkpoints = sqliteCheckpointStore({ database: log.database });
 * await checkpoints.save('emailer', {}, { '0': 3 });          // claim partition 0 under lease epoch 3
 * await checkpoints.save('emailer', { '0': '41' }, { '0': 3 });
 * await checkpoints.load('emailer'); // { '0': '41' }
 */
export function sqliteCheckpointStore(source: SqliteSource): CheckpointStore {
  // In its own file, checkpoints are written with synchronous=NORMAL: in WAL mode a process crash
  // loses nothing, and what a power loss could take back is a checkpoint, which only means
  // records delivered again (at least once), never lost. A FULL fsync per save stalled the
  // consumer's event loop for a quarter of its time (bench/suites/25-consumer.mjs).
  const connection = openStoreConnection(source, 'sqliteCheckpointStore', SCHEMA, 'NORMAL');
  const { db } = connection;
  const select = db
    .prepare('SELECT partition_id, last_offset FROM riverlog_checkpoints_v2 WHERE group_name = ? AND last_offset IS NOT NULL')
    .raw();
  const epochOf = db.prepare('SELECT epoch FROM riverlog_checkpoints_v2 WHERE group_name = ? AND partition_id = ?').pluck();
  const fenceOne = db.prepare(
    'INSERT INTO riverlog_checkpoints_v2 (group_name, partition_id, epoch) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET epoch = excluded.epoch',
  );
  const upsert = db.prepare(
    'INSERT INTO riverlog_checkpoints_v2 (group_name, partition_id, last_offset) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_offset = excluded.last_offset',
  );
  const saveAll = db.transaction((group: string, positions: PositionMap, fence: Fence) => {
    checkFence(
      `Checkpoint of group ${group}`,
      fence,
      (partition) => (epochOf.get(group, partition) as number | null | undefined) ?? undefined,
    );
    for (const [partition, epoch] of Object.entries(fence)) fenceOne.run(group, partition, epoch);
    for (const [partition, offset] of Object.entries(positions)) upsert.run(group, partition, offset);
  });
  return {
    async load(group) {
      connection.ensureOpen();
      return Object.fromEntries(select.all(group) as [string, string][]);
    },
    async save(group, positions, fence = {}) {
      await connection.write(() => saveAll.immediate(group, positions, fence));
    },
    async close() {
      connection.close();
    },
  };
}
