import type { Lease, LeaseStore } from '@riverlog/core';
import { openStoreConnection, type SqliteSource } from '../connection.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_leases (
  group_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (group_name, partition_id)
) WITHOUT ROWID;
`;

export type SqliteLeaseStoreOptions = Exclude<SqliteSource, string> & {
  /** The clock, epoch ms (default `Date.now`); every process sharing the leases must agree on it. */
  readonly now?: () => number;
};

/**
 * Partition leases in an SQLite table (`riverlog_leases`), shared by every
 * process that opens the same file. Each call is one SQL statement, so
 * taking, renewing and releasing are atomic across processes.
 *
 * @example
 * import { sqliteLeaseStore } from '@riverlog/sqlite';
 *
 * const leases = sqliteLeaseStore({ path: 'data/retail.db' });
 * if (await leases.acquire('views', '0', 'worker-1', 10_000)) {
 *   // ... process partition 0, renewing before 10 s pass
 *   await leases.renew('views', '0', 'worker-1', 10_000);
 * }
 */
export function sqliteLeaseStore(source: string | SqliteLeaseStoreOptions): LeaseStore {
  const connection = openStoreConnection(source, 'sqliteLeaseStore', SCHEMA);
  const { db } = connection;
  const now = (typeof source === 'object' && source.now) || Date.now;
  // Taken when free, expired or already ours; otherwise the row stays as it is and nothing changes.
  const acquire = db.prepare(`
    INSERT INTO riverlog_leases (group_name, partition_id, owner, expires_at) VALUES (@group, @partition, @owner, @now + @ttl)
    ON CONFLICT DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE riverlog_leases.owner = excluded.owner OR riverlog_leases.expires_at <= @now`);
  const renew = db.prepare(`
    UPDATE riverlog_leases SET expires_at = @now + @ttl
    WHERE group_name = @group AND partition_id = @partition AND owner = @owner AND expires_at > @now`);
  const release = db.prepare('DELETE FROM riverlog_leases WHERE group_name = ? AND partition_id = ? AND owner = ?');
  const list = db.prepare(
    'SELECT group_name AS "group", partition_id AS partition, owner, expires_at AS expiresAt FROM riverlog_leases WHERE group_name = ? ORDER BY partition_id',
  );
  return {
    async acquire(group, partition, owner, ttlMs) {
      connection.ensureOpen();
      return acquire.run({ group, partition, owner, now: now(), ttl: ttlMs }).changes === 1;
    },
    async renew(group, partition, owner, ttlMs) {
      connection.ensureOpen();
      return renew.run({ group, partition, owner, now: now(), ttl: ttlMs }).changes === 1;
    },
    async release(group, partition, owner) {
      connection.ensureOpen();
      release.run(group, partition, owner);
    },
    async list(group) {
      connection.ensureOpen();
      return list.all(group) as Lease[];
    },
    async close() {
      connection.close();
    },
  };
}
