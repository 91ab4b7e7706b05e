import { describe, expect, it } from 'vitest';
import { DedupeWindow } from './dedupe-window.js';

describe('DedupeWindow', () => {
  it('remembers the most recent ids up to its capacity, forgetting the oldest first', () => {
    const window = new DedupeWindow(2);
    window.remember('a', { partition: '0', offset: '1' });
    window.remember('b', { partition: '1', offset: '1' });
    window.remember('c', { partition: '0', offset: '2' });
    expect(window.get('a')).toBeUndefined();
    expect(window.get('b')).toEqual({ partition: '1', offset: '1' });
    expect(window.get('c')).toEqual({ partition: '0', offset: '2' });
    expect(window.size).toBe(2);
  });

  it('with capacity 0 remembers nothing', () => {
    const window = new DedupeWindow(0);
    window.remember('a', { partition: '0', offset: '1' });
    expect(window.get('a')).toBeUndefined();
  });
});
