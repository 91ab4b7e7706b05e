import { AssertionError } from 'node:assert';
import type { Delivery } from './scripted-log.js';

/**
 * The error a spec throws when what happened is not what it expected: a
 * `node:assert` `AssertionError` (so vitest, node's test runner and others
 * report it as a failed assertion), whose message says which run failed,
 * the event sequence of that run and the difference, line by line.
 * `actual` and `expected` hold the values compared, for runners that show
 * their own diff.
 *
 * @example
 * try {
 *   await viewSpec(counts).given(...events).thenRows({ p1: { purchases: 1 } });
 * } catch (error) {
 *   if (error instanceof SpecAssertionError) console.log(error.run, error.message);
 * }
 */
export class SpecAssertionError extends AssertionError {
  /** The run that failed, e.g. `every event delivered twice`. */
  readonly run: string;
  constructor(options: { message: string; run: string; actual?: unknown; expected?: unknown }) {
    // Node's AssertionError ignores the message for a deepStrictEqual of equal values: name the operator only with values to compare.
    super(
      'actual' in options || 'expected' in options
        ? { message: options.message, actual: options.actual, expected: options.expected, operator: 'deepStrictEqual' }
        : { message: options.message },
    );
    this.run = options.run;
  }
}

/** Values as one line of JSON (rows are JSON in every store), shortened past `max` characters. */
export function show(value: unknown, max = 160): string {
  const text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The paths where two JSON values differ: `.a.b: expected 1, got 2`. */
export function valueDiff(expected: unknown, actual: unknown, path = ''): string[] {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
  if (isRecord(expected) && isRecord(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
    return keys.flatMap((key) => {
      const at = `${path}.${key}`;
      if (!(key in actual)) return [`${at}: expected ${show(expected[key])}, missing`];
      if (!(key in expected)) return [`${at}: not expected, got ${show(actual[key])}`];
      return valueDiff(expected[key], actual[key], at);
    });
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    return expected.flatMap((item, i) => valueDiff(item, actual[i], `${path}[${i}]`));
  }
  return [`${path || '(row)'}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Row by row, what differs between two sets of rows (by key); empty when they are equal. */
export function rowDiff(expected: Readonly<Record<string, unknown>>, actual: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  const lines: string[] = [];
  for (const key of keys) {
    if (!(key in actual)) lines.push(`  row ${JSON.stringify(key)}: missing; expected ${show(expected[key])}`);
    else if (!(key in expected)) lines.push(`  row ${JSON.stringify(key)}: not expected; got ${show(actual[key])}`);
    else {
      const diff = valueDiff(expected[key], actual[key]);
      if (diff.length > 0) lines.push(`  row ${JSON.stringify(key)}:`, ...diff.map((line) => `    ${line}`));
    }
  }
  return lines;
}

const MAX_DELIVERIES = 200;

/** The deliveries of a run, one per line: number, event, position, and whether it came again. */
export function describeDeliveries(deliveries: readonly Delivery[]): string[] {
  const width = String(deliveries.length).length;
  const lines = deliveries.slice(0, MAX_DELIVERIES).map((d, i) => {
    const again = d.again === 'same-position' ? '  (again, same position)' : d.again === 'new-position' ? '  (again, appended anew)' : '';
    return `  ${String(i + 1).padStart(width)}. event #${d.number} ${d.event.type} ${JSON.stringify(d.event.subject)} at ${d.partition}@${d.offset}${again}`;
  });
  if (deliveries.length > MAX_DELIVERIES) lines.push(`  … and ${deliveries.length - MAX_DELIVERIES} more`);
  return lines;
}
