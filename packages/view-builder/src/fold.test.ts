import type { Envelope, LogRecord, StoredRow } from '@riverlog/core';
import { describe, expect, test } from 'vitest';
import { changes, defineView, del } from './define-view.js';
import { type FoldEvent, FoldUnit, MissingRows } from './fold.js';
import { catalog, created, purchased } from './retail.fixture.js';

/** Counts events per product and in one row fed by every event; a purchase of `gone` deletes the product row. */
const counting = defineView({
  name: 'counting',
  version: 1,
  catalog,
  initial: { n: 0 },
  key: (event) => [event.data.id, 'all'],
  apply: {
    'product/create': (row) => ({ n: row.n + 1 }),
    'product/purchase': (row, event, view) => (event.data.id === 'gone' && view.key === 'gone' ? del : { n: row.n + 1 }),
  },
});

function at(partition: string, offset: number, event: Envelope): FoldEvent {
  const record: LogRecord = { position: { partition, offset: String(offset) }, event };
  return { record, event, keys: counting.fold.keysOf(event) };
}

const stored = (key: string, value: unknown, applied: Record<string, string>, version: number): [string, StoredRow] => [
  key,
  { key, value, applied, version },
];

describe('FoldUnit: the pure fold with row guards', () => {
  test('writes each changed row once, at the version read, with what it applied per partition', () => {
    const unit = new FoldUnit(counting, 100);
    unit.load(['p1', 'all'], new Map([stored('all', { n: 10 }, { '1': '7' }, 4)]));
    expect(unit.fold(at('0', 3, created('p1', 'Boot', 'shoes')))).toBe(true);
    expect(unit.fold(at('0', 5, purchased('p1')))).toBe(true);
    expect(unit.writes()).toEqual([
      { key: 'p1', value: { n: 2 }, applied: { '0': '5' }, expectedVersion: 0 },
      { key: 'all', value: { n: 12 }, applied: { '0': '5', '1': '7' }, expectedVersion: 4 },
    ]);
    expect(unit.positions()).toEqual({ '0': '5' });
    expect(unit.applied).toBe(2);
  });

  test('skips an event for a row that has applied its position already (a redo after a partial commit)', () => {
    const unit = new FoldUnit(counting, 100);
    // `all` was written by the earlier attempt (it applied partition 0 up to 5); `p1` was not.
    unit.load(['p1', 'all'], new Map([stored('all', { n: 2 }, { '0': '5' }, 1)]));
    unit.fold(at('0', 3, created('p1', 'Boot', 'shoes')));
    unit.fold(at('0', 5, purchased('p1')));
    unit.fold(at('0', 6, purchased('p1')));
    expect(unit.writes()).toEqual([
      { key: 'p1', value: { n: 3 }, applied: { '0': '6' }, expectedVersion: 0 },
      { key: 'all', value: { n: 3 }, applied: { '0': '6' }, expectedVersion: 1 },
    ]);
  });

  test('folds an event id once within the unit', () => {
    const unit = new FoldUnit(counting, 100);
    unit.load(['p1', 'all'], new Map());
    const event = purchased('p1');
    unit.fold(at('0', 1, event));
    unit.fold(at('2', 9, event));
    expect(unit.duplicates).toBe(1);
    expect([...unit.ids]).toEqual([event.id]);
    expect(unit.writes().map((w) => w.value)).toEqual([{ n: 1 }, { n: 1 }]);
    expect(unit.positions()).toEqual({ '0': '1', '2': '9' });
  });

  test('a deleted row is written as a tombstone that keeps what it applied', () => {
    const unit = new FoldUnit(counting, 100);
    unit.load(['gone', 'all'], new Map([stored('gone', { n: 1 }, { '0': '1' }, 3)]));
    unit.fold(at('0', 2, purchased('gone')));
    expect(unit.writes()[0]).toEqual({ key: 'gone', value: undefined, applied: { '0': '2' }, expectedVersion: 3 });
  });

  test('asks for rows it has not loaded, before changing anything', () => {
    const unit = new FoldUnit(counting, 100);
    const item = at('0', 1, purchased('p1'));
    expect(() => unit.fold(item)).toThrow(MissingRows);
    expect(unit.empty).toBe(true);
    try {
      unit.fold(item);
    } catch (error) {
      expect((error as MissingRows).keys).toEqual(['p1', 'all']);
    }
  });

  test('refuses an event whose new rows would pass the commit limit, unless the unit is empty', () => {
    const unit = new FoldUnit(counting, 3);
    unit.load(['p1', 'p2', 'all'], new Map());
    expect(unit.fold(at('0', 1, purchased('p1')))).toBe(true); // p1, all
    expect(unit.fold(at('0', 2, purchased('p1')))).toBe(true); // no new rows
    expect(unit.fold(at('0', 3, purchased('p2')))).toBe(true); // p2: 3 rows
    unit.load(['p3'], new Map());
    expect(unit.fold(at('0', 4, purchased('p3')))).toBe(false); // would be 4
    expect(unit.positions()).toEqual({ '0': '3' });

    const many = defineView({
      name: 'many',
      version: 1,
      catalog,
      initial: 0,
      apply: { 'product/purchase': () => changes({ a: 1, b: 1, c: 1, d: 1, e: 1 }) },
    });
    const alone = new FoldUnit(many, 3);
    alone.load(['a', 'b', 'c', 'd', 'e'], new Map());
    const event = purchased('a');
    expect(alone.fold({ record: { position: { partition: '0', offset: '1' }, event }, event, keys: ['a'] })).toBe(true);
    expect(alone.rowCount).toBe(5); // the committer writes it in several commits
  });
});
