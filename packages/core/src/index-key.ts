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

/** Only code units below 0x80 (the test runs in native code, faster than a loop). */
const ASCII = /^[^\u0080-\uffff]*$/;

/**
 * A string as bytes whose unsigned byte order (SQLite's BLOB `memcmp`,
 * DynamoDB's binary sort keys) is JavaScript's code-unit string order, the
 * order every view store lists in: a code unit below 0x80 is one byte, any
 * other three (0x80 | u >> 12, 0x80 | (u >> 6) & 0x3f, 0x80 | u & 0x3f), so
 * every multi-byte code sorts after every one-byte code and among its kind
 * by value, and no code is a prefix of another. Unlike UTF-8 it keeps
 * surrogates apart, as JavaScript compares them (UTF-8 sorts characters
 * above U+FFFF before U+E000–U+FFFF and cannot hold a lone surrogate), and
 * ASCII stays one byte a character, which keeps index entries small.
 *
 * @example
 * Buffer.compare(sortableBytes('a\uffff'), sortableBytes('a\ud83d\ude00')); // 1, as 'a\uffff' > 'a😀'
 * fromSortableBytes(sortableBytes(encodeIndexKey(['shoes', 42]))); // the index key back
 */
export function sortableBytes(text: string): Buffer {
  if (ASCII.test(text)) return Buffer.from(text, 'latin1');
  const bytes = Buffer.allocUnsafe(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes[n++] = unit;
    else {
      bytes[n++] = 0x80 | (unit >> 12);
      bytes[n++] = 0x80 | ((unit >> 6) & 0x3f);
      bytes[n++] = 0x80 | (unit & 0x3f);
    }
  }
  return bytes.subarray(0, n);
}

/** The string `sortableBytes` made `bytes` from. */
export function fromSortableBytes(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte < 0x80) text += String.fromCharCode(byte);
    else {
      text += String.fromCharCode(((byte & 0x0f) << 12) | (((bytes[i + 1] as number) & 0x3f) << 6) | ((bytes[i + 2] as number) & 0x3f));
      i += 2;
    }
  }
  return text;
}
