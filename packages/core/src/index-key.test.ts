import { describe, expect, it } from 'vitest';
import { encodeIndexKey, fromSortableBytes, sortableBytes } from './index-key.js';

const UNITS = ['a', 'z', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ud83d', '\ude00', '\ue000', '\uffff'];

describe('sortableBytes', () => {
  it('orders bytes as JavaScript orders strings (surrogates and U+E000–U+FFFF included) and reads back', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const texts = Array.from({ length: 400 }, () => Array.from({ length: next() % 5 }, () => UNITS[next() % UNITS.length]).join(''));
    for (const text of texts) expect(fromSortableBytes(sortableBytes(text))).toBe(text);
    const byString = [...texts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const byBytes = [...texts].sort((a, b) => Buffer.compare(sortableBytes(a), sortableBytes(b)));
    expect(byBytes).toEqual(byString);
  });

  it('keeps a prefix of an index key a prefix of its bytes, ASCII one byte a character', () => {
    const whole = sortableBytes(encodeIndexKey(['shoes', 'Boot']));
    const prefix = sortableBytes(encodeIndexKey(['shoes']));
    expect(whole.subarray(0, prefix.length).equals(prefix)).toBe(true);
    expect(sortableBytes('abc').length).toBe(3);
    expect(sortableBytes('\u00e9').length).toBe(3);
  });
});
