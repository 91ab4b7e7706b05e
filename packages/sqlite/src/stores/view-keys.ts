/** Only code units below 0x80 (the test runs in native code, faster than a loop). */
const ASCII = /^[^\u0080-\uffff]*$/;

/**
 * A string as bytes whose order (SQLite compares BLOBs with memcmp) is
 * JavaScript's code-unit string order: a code unit below 0x80 is one byte,
 * any other three (0x80 | u >> 12, 0x80 | (u >> 6) & 0x3f, 0x80 | u & 0x3f),
 * so every multi-byte code sorts after every one-byte code and among its
 * kind by value, and no code is a prefix of another. Unlike UTF-8 it keeps
 * surrogates apart, as JavaScript compares them, and ASCII stays one byte
 * per character (half of UTF-16), which keeps index entries small.
 */
export function sortable(text: string): Buffer {
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

/** The string `sortable` made `bytes` from. */
export function fromSortable(bytes: Uint8Array): string {
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

/** The smallest key above every key that starts with `prefix` (which ends with the U+0000 separator). */
export function upperBound(prefix: Buffer): Buffer {
  const bound = Buffer.from(prefix);
  bound[bound.length - 1] = 1;
  return bound;
}

/** An SQL identifier in double quotes, any `"` doubled. */
export function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
