import type { LogRecord } from '@riverlog/core';
import { describe, expect, test } from 'vitest';
import { recordsAfter } from './fold.js';

const batch = (...offsets: number[]): LogRecord[] =>
  offsets.map((offset) => ({ position: { partition: '0', offset: String(offset) }, event: {} }));
const offsetsOf = (records: readonly LogRecord[]) => records.map((r) => Number(r.position.offset));

describe('recordsAfter: what of a batch is past what is already folded', () => {
  test('the whole batch when it starts past the offset (or nothing is folded yet)', () => {
    const records = batch(8, 9, 10, 11);
    expect(recordsAfter(records, undefined)).toBe(records);
    expect(recordsAfter(records, '7')).toBe(records);
  });

  test('only the records past the offset, compared as numbers', () => {
    expect(offsetsOf(recordsAfter(batch(8, 9, 10, 11), '9'))).toEqual([10, 11]);
    expect(offsetsOf(recordsAfter(batch(98, 99, 100, 101), '99'))).toEqual([100, 101]);
    expect(recordsAfter(batch(8, 9, 10, 11), '11')).toEqual([]);
    expect(recordsAfter(batch(8, 9, 10, 11), '99')).toEqual([]);
    expect(recordsAfter([], '3')).toEqual([]);
  });
});
