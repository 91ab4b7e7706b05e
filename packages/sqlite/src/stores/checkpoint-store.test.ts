import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteLog } from '../log/sqlite-log.js';
import { sqliteCheckpointStore } from './checkpoint-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-checkpoints-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sqliteCheckpointStore', () => {
  it('saves per group and partition, merging with what is stored, and keeps it across reopen', async () => {
    const path = join(dir, 'checkpoints.db');
    const store = sqliteCheckpointStore({ path });
    expect(await store.load('emailer')).toEqual({});
    await store.save('emailer', { '0': '4', '1': '9' });
    await store.save('emailer', { '1': '12' });
    await store.save('auditor', { '0': '1' });
    expect(await store.load('emailer')).toEqual({ '0': '4', '1': '12' });
    await store.close();
    await store.close();
    await expect(store.load('emailer')).rejects.toBeInstanceOf(ClosedError);
    const reopened = sqliteCheckpointStore(path);
    expect(await reopened.load('emailer')).toEqual({ '0': '4', '1': '12' });
    expect(await reopened.load('auditor')).toEqual({ '0': '1' });
    await reopened.close();
  });

  it('shares the log file and its connection, and leaves a database it was given open', async () => {
    const log = sqliteLog({ path: join(dir, 'log.db') });
    const store = sqliteCheckpointStore({ database: log.database });
    await store.save('g', { '0': '41' });
    await store.close();
    expect(log.database.open).toBe(true);
    const other = sqliteCheckpointStore({ path: join(dir, 'log.db') });
    expect(await other.load('g')).toEqual({ '0': '41' });
    await other.close();
    await log.close();
    // The log still opens: its file holds only riverlog tables.
    const again = sqliteLog({ path: join(dir, 'log.db') });
    await again.close();
    await expect(store.load('g')).rejects.toBeInstanceOf(ClosedError);
  });

  it('keeps the fence epochs across connections and reopen: a stale writer elsewhere is refused', async () => {
    const path = join(dir, 'fenced.db');
    const [old, next] = [sqliteCheckpointStore(path), sqliteCheckpointStore(path)];
    await old.save('g', { '0': '5' }, { '0': 1 });
    await next.save('g', {}, { '0': 2 });
    await expect(old.save('g', { '0': '9' }, { '0': 1 })).rejects.toMatchObject({
      code: 'LEASE_LOST',
      partition: '0',
      epoch: 1,
      stored: 2,
    });
    await next.close();
    const reopened = sqliteCheckpointStore(path);
    await expect(reopened.save('g', { '0': '9' }, { '0': 1 })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await reopened.load('g')).toEqual({ '0': '5' });
    await Promise.all([old.close(), reopened.close()]);
  });

  it('may come first in a file that later becomes a log', async () => {
    const path = join(dir, 'later-log.db');
    const store = sqliteCheckpointStore({ path });
    await store.save('g', { '0': '1' });
    const log = sqliteLog({ path, partitions: 2 });
    expect((await log.partitions()).map((p) => p.id)).toEqual(['0', '1']);
    expect(await store.load('g')).toEqual({ '0': '1' });
    await log.close();
    await store.close();
  });

  it('refuses a file that is not an SQLite database with one error naming it', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'plain text, not a database\n'.repeat(200));
    expect(() => sqliteCheckpointStore({ path })).toThrow(new RegExp(`cannot use ${path}.*not a database`));
  });
});
