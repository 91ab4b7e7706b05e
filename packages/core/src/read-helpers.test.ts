import { describe, expect, it } from 'vitest';
import { RiverlogError } from './errors.js';
import { PARTITION_END } from './ports.js';
import { checkReadOptions, resolveStart, sleep } from './read-helpers.js';

const log = { name: 'test log', partitions: ['0', '1', '2'] };

function refusal(run: () => unknown): RiverlogError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RiverlogError);
    return error as RiverlogError;
  }
  throw new Error('expected a refusal');
}

describe('checkReadOptions', () => {
  it('gives all partitions and the default batch size when nothing is asked for', () => {
    expect(checkReadOptions({}, log)).toEqual({ partitions: ['0', '1', '2'], batchSize: 1000 });
    expect(checkReadOptions({}, { ...log, defaultBatchSize: 500 }).batchSize).toBe(500);
    expect(checkReadOptions({ batchSize: 1 }, log).batchSize).toBe(1);
  });

  it('keeps the order asked for and reads a partition listed twice once', () => {
    expect(checkReadOptions({ partitions: ['2', '0', '2', '0'] }, log).partitions).toEqual(['2', '0']);
    expect(checkReadOptions({ partitions: [] }, log).partitions).toEqual([]);
  });

  it('names the option, the value and what is expected', () => {
    expect(refusal(() => checkReadOptions({ batchSize: Number.NaN }, log)).message).toBe(
      'read: batchSize must be a whole number ≥ 1, got NaN.',
    );
    const offset = refusal(() => checkReadOptions({ from: { at: { '1': '007' } } }, log));
    expect(offset.code).toBe('INVALID_OPTION');
    expect(offset.message).toMatch(/^read: from\.at\["1"\] is "007"; an offset is a whole number ≥ 0 .*e\.g\. "41"\.$/);
    const partition = refusal(() => checkReadOptions({ partitions: ['0', '01'] }, log));
    expect(partition.code).toBe('UNKNOWN_PARTITION');
    expect(partition.message).toBe(
      'read: partitions lists "01", but test log has no partition "01"; it has 0, 1, 2. Pass ids exactly as partitions() lists them.',
    );
    const many = { name: 'big log', partitions: Array.from({ length: 20 }, (_, i) => String(i)) };
    expect(refusal(() => checkReadOptions({ partitions: ['x'] }, many)).message).toContain('it has 0, 1, 2, 3, 4, 5, 6, 7, ….');
    expect(refusal(() => checkReadOptions({ from: { time: new Date(Number.NaN) } }, log)).message).toBe(
      'read: from.time must be a Date, epoch milliseconds or ISO 8601 text, got an invalid Date.',
    );
  });

  it('refuses an option ReadOptions does not have, e.g. the old maxBatch, listing the known ones', () => {
    const error = refusal(() => checkReadOptions({ maxBatch: 10 } as never, log));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toBe('read: unknown option "maxBatch". Known options: from, partitions, types, follow, batchSize, signal.');
    expect(refusal(() => checkReadOptions({ batchsize: 10 } as never, log)).message).toContain('did you mean "batchSize"?');
  });

  it('takes canonical offsets, however long, and entries without an offset', () => {
    const from = { after: { '0': '0', '1': '123456789012345678901234567890', '2': undefined as unknown as string } };
    expect(() => checkReadOptions({ from }, log)).not.toThrow();
    expect(resolveStart(from, '1')).toEqual({ kind: 'after', offset: '123456789012345678901234567890' });
    expect(resolveStart(from, '2')).toEqual({ kind: 'earliest' });
  });
});

describe('PARTITION_END in a read start', () => {
  it('is a valid after offset, resolving to the end kind, and not a valid at offset', () => {
    const from = { after: { '0': PARTITION_END, '1': '4' } };
    expect(() => checkReadOptions({ from }, log)).not.toThrow();
    expect(resolveStart(from, '0')).toEqual({ kind: 'end' });
    expect(resolveStart(from, '1')).toEqual({ kind: 'after', offset: '4' });
    const at = refusal(() => checkReadOptions({ from: { at: { '0': PARTITION_END } } }, log));
    expect(at.code).toBe('INVALID_OPTION');
    expect(at.message).not.toContain('read to its end');
    expect(refusal(() => checkReadOptions({ from: { after: { '0': 'END' } } }, log)).message).toContain(
      '(or "end" for a partition read to its end)',
    );
  });
});

describe('sleep', () => {
  it('sleep() ends early, with false, when its signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await sleep(1)).toBe(true);
  });
});
