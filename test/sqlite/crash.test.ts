import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sqliteLog } from '@riverlog/sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChild } from './children.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface StoredBatch {
  size: number;
  positions: Map<number, string>;
}

describe('SQLite log killed while appending', () => {
  it('20 times over, SIGKILL at a random moment: the file opens, every acknowledged event is there, no batch is partly there', async () => {
    const path = join(dir, 'crash.db');
    const acknowledged = new Map<string, string[]>();
    let killedMidway = 0;
    for (let run = 0; run < 20; run++) {
      const child = startChild('sqlite-crash-appender.mjs', [path, `r${run}`]);
      await child.line((l) => l === 'ready', 20_000);
      await sleep(Math.random() * 150);
      child.process.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal, child.stderr()).toBe('SIGKILL');
      for (const line of child.lines) {
        const [kind, batch, positions] = line.split(' ');
        if (kind === 'ack') acknowledged.set(batch as string, (positions as string).split(','));
      }

      // Opening after the crash recovers the WAL; then every batch is all there or not at all.
      const log = sqliteLog({ path });
      const batches = new Map<string, StoredBatch>();
      for await (const { records } of log.read()) {
        for (const { position, event } of records) {
          const { batch, size, index } = (event as { data: { batch: string; size: number; index: number } }).data;
          const stored = batches.get(batch) ?? { size, positions: new Map() };
          stored.positions.set(index, `${position.partition}:${position.offset}`);
          batches.set(batch, stored);
        }
      }
      await log.close();
      for (const [batch, stored] of batches) {
        if (stored.positions.size !== stored.size) expect.fail(`batch ${batch}: ${stored.positions.size} of ${stored.size} events stored`);
      }
      for (const [batch, positions] of acknowledged) {
        const stored = batches.get(batch);
        if (!stored) expect.fail(`acknowledged batch ${batch} is missing after run ${run}`);
        expect(
          positions.map((_, index) => stored.positions.get(index)),
          `positions of batch ${batch}`,
        ).toEqual(positions);
      }
      // A batch written but not acknowledged (killed between commit and the ack line) is allowed.
      // Count the runs killed after their first append, to show the kills hit a running append loop.
      if (child.lines.some((l) => l.startsWith(`ack r${run}-`))) killedMidway++;
    }
    expect(acknowledged.size).toBeGreaterThan(0);
    expect(killedMidway).toBeGreaterThanOrEqual(10);
  });
});
