import { describe, expect, it } from 'vitest';
import { PARTITION_END } from './ports.js';
import { compareOffsets } from './position.js';

const SEQ = '49590338271490256608559692538361571095921575989136588898';
const NEXT = '49590338271490256608559692540925702759324208523137515618';

/** Sorts with compareOffsets and checks that it agrees with the given order pairwise, both ways. */
function expectOrdered(offsets: readonly string[]): void {
  for (let i = 0; i < offsets.length; i++) {
    for (let j = 0; j < offsets.length; j++) {
      const a = offsets[i] as string;
      const b = offsets[j] as string;
      expect(compareOffsets(a, b), `${a} vs ${b}`).toBe(Math.sign(i - j));
    }
  }
}

describe('compareOffsets with sub-records of aggregates (<offset>.<index>)', () => {
  it('orders <seq>.<i> after <seq>, by index, before the next sequence number, and below PARTITION_END', () => {
    expectOrdered(['7', '7.0', '7.1', '7.2', '7.10', '7.11', '8', '9.0', '10', '10.3', '99', '99.5', '1000', '1000.0', PARTITION_END]);
    expectOrdered([SEQ, `${SEQ}.0`, `${SEQ}.1`, `${SEQ}.9`, `${SEQ}.10`, NEXT, `${NEXT}.0`, PARTITION_END]);
  });

  it('is not fooled by text order where lengths match: 99.5 < 1000, 12.5 < 1234, 1.25 > 1.3 is false', () => {
    expect(compareOffsets('99.5', '1000')).toBe(-1);
    expect(compareOffsets('1000', '99.5')).toBe(1);
    expect(compareOffsets('12.5', '1234')).toBe(-1);
    expect(compareOffsets('1.25', '10.3')).toBe(-1);
    expect(compareOffsets('3.25', '3.30')).toBe(-1);
    expect(compareOffsets('3.9', '3.10')).toBe(-1);
  });

  it('keeps plain offsets as before: numeric, beyond 2^53, equal ones 0, PARTITION_END above all', () => {
    expectOrdered(['0', '9', '10', '11', '100', SEQ, NEXT, PARTITION_END]);
    expect(compareOffsets(`${SEQ}.3`, `${SEQ}.3`)).toBe(0);
    expect(compareOffsets(PARTITION_END, '123')).toBe(1);
  });
});
