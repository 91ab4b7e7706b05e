import type { Lease, LeaseStore } from '@riverlog/core';
import { openStoreConnection, type SqliteSource } from '../connection.js';

/** `_v2`: fenced leases (epoch and counter, no expiry time); a pre-release file's `riverlog_leases` is left alone. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_leases_v2 (
  group_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  owner TEXT,                  -- NULL once released
  epoch INTEGER NOT NULL,      -- fencing token: + 1 per take
  counter INTEGER NOT NULL,    -- + 1 per write
  PRIMARY KEY (group_name, partition_id)
) WITHOUT ROWID;
`;

const COLUMNS = 'group_name AS "group", partition_id AS partition, owner, epoch, counter';

interface Row {
  group: string;
  partition: string;
  owner: string | null;
  epoch: number;
  counter: number;
}

const toLease = (row: Row | undefined): Lease | undefined =>
  row && { group: row.group, partition: row.partition, owner: row.owner ?? undefined, epoch: row.epoch, counter: row.counter };

/**
 * Fenced partition leases in an SQLite table (`riverlog_leases_v2`), shared
 * by every process that opens the same file. Each write is one SQL statement
 * (one transaction): a compare-and-set on the lease's epoch and counter.
 * The store keeps no clock; expiry is judged by the caller.
 *
 * @example
 * import { sqliteLeaseStore } from '@riverlog/sqlite';
 *
 * const leases = sqliteLeaseStore({ path: 'data/retail.db' });
 * const mine = await leases.take('views', '0', 'worker-1', undefined); // epoch 1, or undefined if someone has it
 * const renewed = mine && (await leases.renew(mine));                  // counter 2, or undefined once lost
 */
export function sqliteLeaseStore(source: SqliteSource): LeaseStore {
  const connection = openStoreConnection(source, 'sqliteLeaseStore', SCHEMA);
  const { db } = connection;
  const create = db.prepare(`
    INSERT INTO riverlog_leases_v2 (group_name, partition_id, owner, epoch, counter) VALUES (@group, @partition, @owner, 1, 1)
    ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`);
  const takeOver = db.prepare(`
    UPDATE riverlog_leases_v2 SET owner = @owner, epoch = epoch + 1, counter = counter + 1
    WHERE group_name = @group AND partition_id = @partition AND epoch = @epoch AND counter = @counter RETURNING ${COLUMNS}`);
  const renew = db.prepare(`
    UPDATE riverlog_leases_v2 SET counter = counter + 1
    WHERE group_name = @group AND partition_id = @partition AND epoch = @epoch AND owner = @owner RETURNING ${COLUMNS}`);
  const release = db.prepare(`
    UPDATE riverlog_leases_v2 SET owner = NULL, counter = counter + 1
    WHERE group_name = @group AND partition_id = @partition AND epoch = @epoch AND owner = @owner`);
  const remove = db.prepare(`
    DELETE FROM riverlog_leases_v2 WHERE group_name = @group AND partition_id = @partition AND epoch = @epoch AND counter = @counter`);
  const list = db.prepare(`SELECT ${COLUMNS} FROM riverlog_leases_v2 WHERE group_name = ? ORDER BY partition_id`);
  const key = (lease: Lease) => ({ group: lease.group, partition: lease.partition, epoch: lease.epoch });
  return {
    async list(group) {
      connection.ensureOpen();
      return (list.all(group) as Row[]).map((row) => toLease(row) as Lease);
    },
    async take(group, partition, owner, seen) {
      const row = await connection.write(() =>
        seen === undefined
          ? create.get({ group, partition, owner })
          : takeOver.get({ group, partition, owner, epoch: seen.epoch, counter: seen.counter }),
      );
      return toLease(row as Row | undefined);
    },
    async renew(lease) {
      if (lease.owner === undefined) return undefined;
      const row = await connection.write(() => renew.get({ ...key(lease), owner: lease.owner }));
      return toLease(row as Row | undefined);
    },
    async release(lease) {
      if (lease.owner === undefined) return;
      await connection.write(() => release.run({ ...key(lease), owner: lease.owner }));
    },
    async remove(lease) {
      await connection.write(() => remove.run({ ...key(lease), counter: lease.counter }));
    },
    async close() {
      connection.close();
    },
  };
}
