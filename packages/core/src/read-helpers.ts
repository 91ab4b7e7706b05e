import { RiverlogError } from './errors.js';
import type { ReadFrom } from './ports.js';

/** Where one partition's read starts, resolved from `ReadOptions.from`. */
export type PartitionStart =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'after'; readonly offset: string }
  | { readonly kind: 'at'; readonly offset: string }
  | { readonly kind: 'time'; readonly time: number };

/**
 * Resolves a read's start for one partition, for backend authors: a
 * partition missing from an `after`/`at` map starts at the earliest record.
 *
 * @example
 * resolveStart({ after: { '0': '41' } }, '0'); // { kind: 'after', offset: '41' }
 */
export function resolveStart(from: ReadFrom | undefined, partition: string): PartitionStart {
  if (from === undefined || from === 'earliest') return { kind: 'earliest' };
  if (from === 'latest') return { kind: 'latest' };
  if ('after' in from) {
    const offset = from.after[partition];
    return offset === undefined ? { kind: 'earliest' } : { kind: 'after', offset };
  }
  if ('at' in from) {
    const offset = from.at[partition];
    return offset === undefined ? { kind: 'earliest' } : { kind: 'at', offset };
  }
  const time = from.time instanceof Date ? from.time.getTime() : typeof from.time === 'number' ? from.time : Date.parse(from.time);
  if (Number.isNaN(time)) throw new RiverlogError('INVALID_OPTION', `read: from.time ${JSON.stringify(from.time)} is not a valid time.`);
  return { kind: 'time', time };
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
