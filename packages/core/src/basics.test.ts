import { describe, expect, it } from 'vitest';
import { encodeIndexKey } from './index-key.js';
import { advance, compareOffsets, partitionForSubject } from './position.js';
import { ulid, ulidTime } from './ulid.js';

describe('ulid', () => {
  it('is monotonic within a process, also within one millisecond and when the clock steps back', () => {
    const ids = [ulid(1000), ulid(1000), ulid(1000), ulid(999), ulid(1001)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ulidTime(ids[4] as string)).toBe(1001);
  });
  it('encodes the time in the first ten characters', () => {
    const now = Date.UTC(2026, 10, 22);
    expect(ulidTime(ulid(now))).toBe(now);
  });
});

describe('positions', () => {
  it('compares offsets numerically, beyond 2^53', () => {
    expect(compareOffsets('9', '10')).toBe(-1);
    expect(
      compareOffsets(
        '49590338271490256608559692538361571095921575989136588898',
        '49590338271490256608559692540925702759324208523137515618',
      ),
    ).toBe(-1);
    expect(compareOffsets('7', '7')).toBe(0);
  });
  it('advances only forward', () => {
    expect(advance({ '0': '5' }, { partition: '0', offset: '4' })).toEqual({ '0': '5' });
    expect(advance({ '0': '5' }, { partition: '1', offset: '0' })).toEqual({ '0': '5', '1': '0' });
  });
  it('maps a subject to a stable partition in range', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[partitionForSubject(`subject-${i}`, 4)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(partitionForSubject('p1', 4)).toBe(partitionForSubject('p1', 4));
  });
});

describe('encodeIndexKey', () => {
  it('orders tuples component by component, numbers numerically', () => {
    const keys = [['shoes', 'Boot'], ['shoes', 'Clog'], ['shoes-x', 'A'], ['shoe'], [-5], [-1.5], [0], [2], [10], ['a']];
    const shuffled = [...keys].reverse();
    shuffled.sort((a, b) => (encodeIndexKey(a) < encodeIndexKey(b) ? -1 : 1));
    expect(shuffled).toEqual([[-5], [-1.5], [0], [2], [10], ['a'], ['shoe'], ['shoes', 'Boot'], ['shoes', 'Clog'], ['shoes-x', 'A']]);
  });
  it('encodes a prefix as a prefix', () => {
    expect(encodeIndexKey(['shoes', 'Boot']).startsWith(encodeIndexKey(['shoes']))).toBe(true);
    expect(encodeIndexKey(['shoes-x', 'A']).startsWith(encodeIndexKey(['shoes']))).toBe(false);
  });
});
