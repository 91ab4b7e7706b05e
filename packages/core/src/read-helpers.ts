import { RiverlogError } from './errors.js';
import { preview } from './issues.js';
import { checkOptions } from './options.js';
import { PARTITION_END, type ReadFrom, type ReadOptions } from './ports.js';

/** Where one partition's read starts, resolved from `ReadOptions.from`. */
export type PartitionStart =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'after'; readonly offset: string }
  | { readonly kind: 'at'; readonly offset: string }
  | { readonly kind: 'time'; readonly time: number }
  /** The partition was read to its end (`after` is {@link PARTITION_END}): yield one empty `ended` batch. */
  | { readonly kind: 'end' };

/** What `checkReadOptions` needs to know of the log being read. */
export interface ReadTarget {
  /** The log as messages name it, e.g. `SQLite log /data/retail.db`. */
  readonly name: string;
  /** The log's partition ids, as `EventLog.partitions()` lists them. */
  readonly partitions: readonly string[];
  /** The batch size when the read gives no `batchSize`. Default 1,000. */
  readonly defaultBatchSize?: number;
}

/** A read's options once checked: what a backend's read loop works with. */
export interface CheckedRead {
  /** The partitions to read: each once, in the order asked for (default: all of the log's). */
  readonly partitions: readonly string[];
  /** The largest batch to yield: a whole number ≥ 1. */
  readonly batchSize: number;
}

const DEFAULT_BATCH_SIZE = 1000;
/** The names `ReadOptions` has. */
export const READ_OPTIONS = ['from', 'partitions', 'types', 'follow', 'batchSize', 'signal'] as const;
/** An offset as positions give them: decimal digits, no sign, no leading zero. */
const OFFSET = /^(?:0|[1-9]\d*)$/;
const MAX_LISTED = 8;

/** A value for a message: numbers as JavaScript writes them (NaN, Infinity), dates as text, the rest as short JSON. */
function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : value.toISOString();
  return preview(value);
}

/**
 * Checks a read's options once, before anything is read, for backend authors:
 * every log refuses the same bad input with the same error.
 *
 * - every option must be one `ReadOptions` names (`INVALID_OPTION`, with the closest name);
 * - `batchSize` must be a whole number ≥ 1 (`INVALID_OPTION`);
 * - `from` must be one of the `ReadFrom` forms, every offset in an
 *   `after`/`at` map a decimal string of a whole number ≥ 0 without leading
 *   zeros (as positions give them), a `time` a valid time (`INVALID_OPTION`);
 *   an `after` offset may also be {@link PARTITION_END} (see `resolveStart`);
 * - every entry of `partitions` must be one of the log's partition ids,
 *   exactly as it lists them (`UNKNOWN_PARTITION`). An id listed twice is
 *   read once.
 *
 * @example
 * const { partitions, batchSize } = checkReadOptions(options, { name: 'memory log', partitions: ['0', '1'] });
 */
export function checkReadOptions(options: ReadOptions, log: ReadTarget): CheckedRead {
  checkOptions('read', options, READ_OPTIONS);
  const batchSize = options.batchSize ?? log.defaultBatchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RiverlogError('INVALID_OPTION', `read: batchSize must be a whole number ≥ 1, got ${shown(batchSize)}.`);
  }
  checkFrom(options.from);
  return { partitions: wantedPartitions(options.partitions, log), batchSize };
}

function checkFrom(from: ReadFrom | undefined): void {
  if (from === undefined || from === 'earliest' || from === 'latest') return;
  if (typeof from !== 'object' || from === null) throw badFrom(from);
  if ('after' in from) checkOffsets(from.after, 'after');
  else if ('at' in from) checkOffsets(from.at, 'at');
  else if ('time' in from) timeOf(from.time);
  else throw badFrom(from);
}

function badFrom(from: unknown): RiverlogError {
  return new RiverlogError(
    'INVALID_OPTION',
    `read: from must be 'earliest', 'latest', { after: { <partition>: <offset> } }, { at: { <partition>: <offset> } } or { time }, got ${preview(from)}.`,
  );
}

function checkOffsets(map: unknown, kind: 'after' | 'at'): void {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `read: from.${kind} must be an object of offsets by partition, e.g. { "0": "41" }, got ${preview(map)}.`,
    );
  }
  for (const [partition, offset] of Object.entries(map)) {
    // A partition without an offset starts at the earliest record, as one missing from the map.
    if (offset === undefined || (typeof offset === 'string' && OFFSET.test(offset))) continue;
    if (kind === 'after' && offset === PARTITION_END) continue;
    const end = kind === 'after' ? ` (or "${PARTITION_END}" for a partition read to its end)` : '';
    throw new RiverlogError(
      'INVALID_OPTION',
      `read: from.${kind}[${JSON.stringify(partition)}] is ${shown(offset)}; an offset is a whole number ≥ 0 as a string of decimal digits without leading zeros, as positions give it, e.g. "41"${end}.`,
    );
  }
}

function wantedPartitions(wanted: readonly string[] | undefined, log: ReadTarget): readonly string[] {
  if (wanted === undefined) return log.partitions;
  if (!Array.isArray(wanted)) {
    throw new RiverlogError('INVALID_OPTION', `read: partitions must be an array of partition ids, e.g. ["0"], got ${preview(wanted)}.`);
  }
  for (const id of wanted) {
    if (typeof id !== 'string' || !log.partitions.includes(id)) {
      const known = log.partitions.length > MAX_LISTED ? `${log.partitions.slice(0, MAX_LISTED).join(', ')}, …` : log.partitions.join(', ');
      throw new RiverlogError(
        'UNKNOWN_PARTITION',
        `read: partitions lists ${preview(id)}, but ${log.name} has no partition ${preview(id)}; it has ${known}. Pass ids exactly as partitions() lists them.`,
      );
    }
  }
  const once = new Set(wanted);
  return once.size === wanted.length ? [...wanted] : [...once];
}

function timeOf(time: Date | string | number): number {
  const ms =
    time instanceof Date ? time.getTime() : typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new RiverlogError('INVALID_OPTION', `read: from.time must be a Date, epoch milliseconds or ISO 8601 text, got ${shown(time)}.`);
  }
  return ms;
}

/**
 * Resolves a read's start for one partition, for backend authors: a
 * partition missing from an `after`/`at` map starts at the earliest record;
 * one whose `after` offset is {@link PARTITION_END} resolves to `{ kind: 'end' }`
 * (the read yields one empty `ended` batch for it). Check the options with
 * `checkReadOptions` first: offsets are taken as given.
 *
 * @example
 * resolveStart({ after: { '0': '41' } }, '0'); // { kind: 'after', offset: '41' }
 */
export function resolveStart(from: ReadFrom | undefined, partition: string): PartitionStart {
  if (from === undefined || from === 'earliest') return { kind: 'earliest' };
  if (from === 'latest') return { kind: 'latest' };
  if ('after' in from) {
    const offset = from.after[partition];
    if (offset === PARTITION_END) return { kind: 'end' };
    return offset === undefined ? { kind: 'earliest' } : { kind: 'after', offset };
  }
  if ('at' in from) {
    const offset = from.at[partition];
    return offset === undefined ? { kind: 'earliest' } : { kind: 'at', offset };
  }
  return { kind: 'time', time: timeOf(from.time) };
}

/**
 * Resolves when `target` fires `type` or `signal` aborts, whichever comes
 * first, without leaving listeners behind.
 */
export function waitForChange(target: EventTarget, type: string, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      target.removeEventListener(type, done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    target.addEventListener(type, done);
    signal?.addEventListener('abort', done);
  });
}

/**
 * Waits `ms`, or less when `signal` aborts. Resolves true when the full time
 * passed, false when the signal cut it short: a retry loop's pause that a
 * stop does not have to wait out.
 *
 * @example
 * if (!(await sleep(backoff, signal))) return; // stopped while waiting
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
