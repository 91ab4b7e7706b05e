import { InvalidUtf8Error } from './errors.js';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The index of the first byte of `bytes` that does not start or continue a
 * valid UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), or -1 when all of it is valid.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const end = bytes.length;
  while (i < end) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min = 0x80;
    let max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0; // overlong
      if (lead === 0xed) max = 0x9f; // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90; // overlong
      if (lead === 0xf4) max = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined) return i;
      if (k === 1 ? next < min || next > max : next < 0x80 || next > 0xbf) return i + k;
    }
    i += length;
  }
  return -1;
}

/**
 * The bytes as text, refusing invalid UTF-8 instead of replacing it with
 * U+FFFD: throws `InvalidUtf8Error` (code `INVALID_UTF8`) naming the offset
 * of the first bad byte. A leading byte order mark is kept. As fast as
 * `Buffer#toString` on valid input. The one UTF-8 decoding of every log's
 * read path: a record whose bytes fail becomes a `LogRecord` with `error`
 * (the error's message) and `raw` (the bytes decoded leniently), and goes to
 * the dead letter.
 *
 * @example
 * let text: string;
 * try {
 *   text = decodeUtf8(value, `record ${offset}`);
 * } catch (error) {
 *   return { position, event: undefined, raw: Buffer.from(value).toString('utf8'), error: (error as Error).message };
 * }
 */
export function decodeUtf8(bytes: Uint8Array, what?: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw new InvalidUtf8Error(Math.max(0, invalidUtf8Offset(bytes)), what);
  }
}
