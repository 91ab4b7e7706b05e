import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError, type DeadLetter } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteDeadLetters } from './dead-letters.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'riverlog-dead-letters-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const letter = (group: string, offset: string, code = 'HANDLER_FAILED'): DeadLetter => ({
  group,
  record: { position: { partition: '1', offset }, event: { type: 'x/y', data: { n: Number(offset) } } },
  code,
  reason: `failed at ${offset}`,
  attempts: 3,
  at: '2026-01-02T03:04:05.000Z',
});

describe('sqliteDeadLetters', () => {
  it('stores letters durably and lists them by group in the order sent', async () => {
    const path = join(dir, 'dead.db');
    const sink = sqliteDeadLetters({ path });
    await sink.send([letter('emailer', '4'), letter('auditor', '5')]);
    await sink.send([]);
    const raw: DeadLetter = {
      ...letter('emailer', '6', 'DECODE_FAILED'),
      record: { position: { partition: '1', offset: '6' }, event: undefined, raw: '{oops', error: 'not JSON' },
    };
    await sink.send([raw]);
    await sink.close();
    const reopened = sqliteDeadLetters(path);
    expect(await reopened.list('emailer')).toEqual([letter('emailer', '4'), { ...raw, record: { ...raw.record, event: undefined } }]);
    expect((await reopened.list()).map((l) => l.group)).toEqual(['emailer', 'auditor', 'emailer']);
    expect(await reopened.list('nobody')).toEqual([]);
    await reopened.close();
    await expect(reopened.send([letter('g', '1')])).rejects.toBeInstanceOf(ClosedError);
  });

  it('keeps a letter sent again for the same group and position once, across connections', async () => {
    const path = join(dir, 'dead.db');
    const [a, b] = [sqliteDeadLetters(path), sqliteDeadLetters(path)];
    await a.send([letter('emailer', '4')]);
    await b.send([{ ...letter('emailer', '4'), attempts: 4 }, letter('emailer', '5')]);
    await a.send([letter('auditor', '4')]);
    expect((await a.list()).map((l) => [l.group, l.record.position.offset, l.attempts])).toEqual([
      ['emailer', '4', 3],
      ['emailer', '5', 3],
      ['auditor', '4', 3],
    ]);
    await Promise.all([a.close(), b.close()]);
  });
});
