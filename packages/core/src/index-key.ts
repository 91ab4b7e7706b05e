import { RiverlogError } from './errors.js';
import type { IndexKey } from './ports.js';

const SEPARATOR = '\u0000';

function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RiverlogError('INVALID_INDEX_KEY', `Index key numbers must be finite, got ${n}.`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, n === 0 ? 0 : n); // -0 and 0 sort as one
  let hi = view.getUint32(0);
  let lo = view.getUint32(4);
  if (hi & 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return `n${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
}

/**
 * An index key as one string whose plain (code unit) order is the key's
 * order, component by component; numbers sort before strings. A prefix of a
 * key encodes to a prefix of its encoding, so prefix queries are range scans.
 *
 * @example
 * encodeIndexKey(['shoes', 'Boot']) < encodeIndexKey(['shoes', 'Clog']); // true
 */
export function encodeIndexKey(key: IndexKey): string {
  let out = '';
  for (const part of key) {
    if (typeof part === 'number') out += encodeNumber(part);
    else {
      if (part.includes(SEPARATOR)) {
        throw new RiverlogError('INVALID_INDEX_KEY', `Index key strings may not contain U+0000: ${JSON.stringify(part)}.`);
      }
      out += `s${part}`;
    }
    out += SEPARATOR;
  }
  return out;
}
