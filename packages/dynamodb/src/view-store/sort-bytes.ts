/** Only code units below 0x80. */
const ASCII = /^[^\u0080-\uffff]*$/;

/**
 * A string as bytes whose unsigned byte order (how DynamoDB compares binary
 * sort keys) is JavaScript's code-unit string order, the order the memory and
 * SQLite stores list in: a code unit below 0x80 is one byte, any other three
 * (0x80 | u >> 12, 0x80 | (u >> 6) & 0x3f, 0x80 | u & 0x3f), so every
 * multi-byte code sorts after every one-byte code and among its kind by
 * value, and no code is a prefix of another. UTF-8 would sort characters
 * above U+FFFF before U+E000–U+FFFF and cannot hold a lone surrogate.
 *
 * @example
 * Buffer.compare(sortBytes('a\uffff'), sortBytes('a\ud83d\ude00')); // 1, as 'a\uffff' > 'a😀' in JavaScript
 */
export function sortBytes(text: string): Buffer {
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

/** The string `sortBytes` made `bytes` from. */
export function fromSortBytes(bytes: Uint8Array): string {
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
