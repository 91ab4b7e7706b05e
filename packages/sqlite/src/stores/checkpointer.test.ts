import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ViewStore } from '@riverlog/core';
import { until } from '@riverlog/testing';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from './checkpointer.js';
import { sqliteViewStore } from './view-store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-checkpointer-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The WAL header's checkpoint sequence number: SQLite adds one each time a writer starts the WAL again from its beginning. */
function walRestarts(file: string): number {
  const header = Buffer.alloc(16);
  const fd = openSync(`${file}-wal`, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(12);
}

/**
 * Commits 20 commits of 1,000 rows to `store` (table `v@1`, keys `k<commit>-<row>`), which asks its worker for a
 * checkpoint, then one-row commits, paced, until `file`'s WAL starts again (the worker checkpointed). Returns the commits made.
 */
async function commitUntilCheckpointed(store: ViewStore, file: string): Promise<number> {
  const restarts = walRestarts(file);
  let c = 0;
  const commit = async (size: number) => {
    const rows = Array.from({ length: size }, (_, i) => ({
      key: `k${c}-${i}`,
      value: { i },
      applied: {},
      expectedVersion: 0,
      indexes: {},
    }));
    c++;
    await store.commit('v@1', { rows, ids: [], positions: {} });
  };
  while (c < 20) await commit(1000);
  await until(async () => {
    await commit(1);
    return walRestarts(file) > restarts;
  }, `the worker to checkpoint ${file}`);
  return c;
}

const entry = pathToFileURL(fileURLToPath(new URL('../../dist/index.js', import.meta.url))).href;
/** A child script that opens a view store on `file` and commits `commits` commits of 1,000 rows, printing each one's number once committed. */
const committer = (file: string, commits: number, close: boolean) => `
  const { sqliteViewStore } = await import(${JSON.stringify(entry)});
  const store = sqliteViewStore({ path: ${JSON.stringify(file)} });
  await store.createTable('v@1', { indexes: ['byName'], idWindow: 0 });
  for (let c = 0; c < ${commits}; c++) {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ key: 'k' + c + '-' + i, value: { name: 'row ' + i }, applied: {}, expectedVersion: 0, indexes: { byName: ['row ' + i] } }));
    await store.commit('v@1', { rows, ids: [], positions: {} });
    console.log(c);
  }
  ${close ? 'await store.close();' : ''}`;

describe('startCheckpointer', () => {
  it('checkpoints the WAL on its thread so that the next commit starts it again (the file stays one commit long)', async () => {
    const file = join(dir, 'a.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const commit = db.transaction(() => {
      for (let i = 0; i < 500; i++) insert.run('x'.repeat(1000));
    });
    const checkpointer = startCheckpointer(file, 1);
    try {
      commit();
      const oneCommit = statSync(`${file}-wal`).size;
      const restarts = walRestarts(file);
      for (let round = 0; round < 10; round++) {
        checkpointer.committed(1);
        await until(() => checkpointer.checkpoints > round, `checkpoint ${round + 1}`);
        commit();
      }
      // Without the worker the WAL would hold all 11 commits (no autocheckpoint on this connection).
      expect(statSync(`${file}-wal`).size).toBeLessThan(2 * oneCommit);
      expect(walRestarts(file)).toBe(restarts + 10);
      expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(5500);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it('is used by a view store in its own file: the WAL starts again long before the store connection would checkpoint it', async () => {
    const file = join(dir, 'views.db');
    const store = sqliteViewStore({ path: file });
    try {
      await store.createTable('v@1', { indexes: ['byName'], idWindow: 0 });
      const restarts = walRestarts(file);
      let commits = 0;
      // 150 commits write ~25,000 pages, fewer than the store connection's cap of 32,000: a restart before is the worker's.
      await until(async () => {
        if (walRestarts(file) > restarts) return true;
        if (commits === 150) throw new Error('the WAL never started again in 150 commits');
        const c = commits++;
        const rows = Array.from({ length: 1000 }, (_, i) => ({
          key: `k${c}-${i}`,
          value: { name: `row ${i}` },
          applied: {},
          expectedVersion: 0,
          indexes: { byName: [`row ${i}`] },
        }));
        await store.commit('v@1', { rows, ids: [], positions: {} });
        return false;
      }, 'the WAL to start again');
      expect(statSync(`${file}-wal`).size).toBeLessThan(32_000 * 4096);
      expect(await store.get('v@1', `k${commits - 1}-999`)).toEqual({ name: 'row 999' });
    } finally {
      await store.close();
    }
  });

  it('ends with a store that is dropped without close(): the worker does not keep its connection to the file', async () => {
    const file = join(dir, 'dropped.db');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // The worker checkpointed: its connection is open.
    const commits = await (async () => {
      const store = sqliteViewStore({ path: file });
      await store.createTable('v@1', { indexes: [], idWindow: 0 });
      return commitUntilCheckpointed(store, file);
    })();
    // Once the store and its connection are collected, the last connection to close deletes the WAL: none may be left open.
    await until(() => {
      gc();
      return !existsSync(`${file}-wal`);
    }, 'the WAL to go with the last connection');
    const reopened = sqliteViewStore({ path: file });
    try {
      expect(await reopened.get('v@1', 'k19-999')).toEqual({ i: 999 });
      expect(await reopened.get('v@1', `k${commits - 1}-0`)).toEqual({ i: 0 });
    } finally {
      await reopened.close();
    }
  });

  it('checkpoints the file the store opened with a relative path, after the process changed its directory', async () => {
    const cwd = process.cwd();
    mkdirSync(join(dir, 'elsewhere'));
    process.chdir(dir);
    const store = sqliteViewStore({ path: 'relative.db' });
    try {
      process.chdir(join(dir, 'elsewhere'));
      await store.createTable('v@1', { indexes: [], idWindow: 0 });
      // The worker starts in another directory than the store's path is relative to.
      await commitUntilCheckpointed(store, join(dir, 'relative.db'));
      expect(existsSync(join(dir, 'elsewhere', 'relative.db'))).toBe(false);
    } finally {
      process.chdir(cwd);
      await store.close();
    }
  });

  it('warns once, naming the cause, when its worker cannot start (and asks it nothing more)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if ((warning as { code?: string }).code === 'RIVERLOG_SQLITE_CHECKPOINTER') warnings.push(warning);
    };
    process.on('warning', onWarning);
    const checkpointer = startCheckpointer(join(dir, 'missing.db'), 1);
    try {
      checkpointer.committed(1);
      await until(() => warnings.length > 0, 'a warning');
      checkpointer.committed(1);
      await checkpointer.close();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toContain('missing.db');
      expect(warnings[0]?.message).toMatch(/SQLITE_CANTOPEN: unable to open database file/);
      expect(checkpointer.checkpoints).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('never keeps the process alive: a child exits once its commits are done, with or without close()', async () => {
    for (const close of [true, false]) {
      const file = join(dir, `child-${close}.db`);
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', committer(file, 30, close)], {
        timeout: 60_000,
      });
      expect(stdout.trim().split('\n').at(-1)).toBe('29');
      const store = sqliteViewStore({ path: file });
      expect(await store.get('v@1', 'k29-999')).toEqual({ name: 'row 999' });
      await store.close();
    }
  });

  it('loses nothing committed when the process is killed while the worker checkpoints', async () => {
    const file = join(dir, 'killed.db');
    const child = spawn(process.execPath, ['--input-type=module', '-e', committer(file, 1_000, false)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last = -1;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      const lines = output.split('\n');
      output = lines.pop() ?? '';
      for (const line of lines) last = Number(line);
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Past 20,000 rows the worker checkpoints; a few more commits and it is at work while the child is killed.
    await until(() => last >= 40 || child.exitCode !== null, 'the child to commit 41 commits', 60_000);
    child.kill('SIGKILL');
    await exited;
    const store = sqliteViewStore({ path: file });
    try {
      expect(last).toBeGreaterThanOrEqual(40);
      for (let c = 0; c <= last; c += 10) expect(await store.get('v@1', `k${c}-0`)).toEqual({ name: 'row 0' });
      expect(await store.get('v@1', `k${last}-999`)).toEqual({ name: 'row 999' });
    } finally {
      await store.close();
    }
  });
});
