// The fencing audit of the scale tests must be able to fail: a write accepted
// under a lease after a newer owner claimed the partition shows as a
// violation. The SQLite stores refuse such a write (checked first); the audit
// is then shown a store that accepted it (the checkpoint row written by hand,
// and the builder's report of an accepted commit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteLeaseStore, sqliteViewStore } from '@riverlog/sqlite';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openAudit } from './audit.js';
import type { Fact } from './support.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-scale-audit-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the fencing audit of the scale tests', () => {
  test('a commit accepted under an epoch older than the claim is a violation; the SQLite store refuses it', async () => {
    const path = join(dir, 'views.db');
    const table = 'ledger@1';
    const group = `view:${table}`;
    const store = sqliteViewStore({ path });
    const leases = sqliteLeaseStore({ path });
    await store.createTable(table, { indexes: [], idWindow: 0 });
    const audit = openAudit(path, path, table, group);
    const journal: Fact[] = [];
    const accepted = (owner: string, fence: Record<string, number>, positions: Record<string, string>) =>
      journal.push({ word: 'accepted', owner, data: { t: Date.now(), fence, positions, rows: 0, ids: 0 } });

    const a = await leases.take(group, '0', 'a', undefined);
    expect(a?.epoch).toBe(1);
    await store.commit(table, { rows: [], ids: [], positions: { '0': '5' }, fence: { '0': 1 } });
    accepted('a', { '0': 1 }, { '0': '5' });
    const b = await leases.take(group, '0', 'b', a);
    expect(b?.epoch).toBe(2);
    await store.commit(table, { rows: [], ids: [], positions: {}, fence: { '0': 2 } });
    accepted('b', { '0': 2 }, {});
    expect(audit.check(journal).violations).toEqual([]);

    await expect(store.commit(table, { rows: [], ids: [], positions: { '0': '9' }, fence: { '0': 1 } })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    expect(audit.check(journal).violations).toEqual([]);

    // A store that accepted it: the checkpoint moves under epoch 1 after the claim under epoch 2.
    const db = new Database(path);
    db.prepare(
      `UPDATE riverlog_view_checkpoints SET last_offset = '9'
       WHERE partition_id = '0' AND table_id = (SELECT id FROM riverlog_view_registry WHERE table_name = ?)`,
    ).run(table);
    db.close();
    accepted('a', { '0': 1 }, { '0': '9' });
    const { violations } = audit.check(journal);
    expect(violations).toEqual([
      expect.stringMatching(/a had partition 0 to 9 accepted under epoch 1 .* after it was claimed under epoch 2/),
    ]);

    // And a builder reporting an epoch the lease store never gave it.
    accepted('c', { '0': 7 }, {});
    expect(audit.check(journal).violations).toContainEqual(
      expect.stringMatching(/c committed partition 0 under epoch 7, which the lease store never gave it/),
    );

    audit.close();
    await Promise.all([store.close(), leases.close()]);
  });
});
