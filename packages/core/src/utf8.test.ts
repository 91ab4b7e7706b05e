import { describe, expect, it } from 'vitest';
import { InvalidUtf8Error } from './errors.js';
import { decodeUtf8, invalidUtf8Offset } from './utf8.js';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

describe('decodeUtf8', () => {
  it('decodes valid UTF-8 exactly, multi-byte characters and a byte order mark included', () => {
    const text = '{"name":"Bøøt ✓ 𝄞"}';
    expect(decodeUtf8(Buffer.from(text))).toBe(text);
    expect(decodeUtf8(new Uint8Array(Buffer.from(text)))).toBe(text);
    expect(decodeUtf8(bytes([0xef, 0xbb, 0xbf], '{}'))).toBe('\uFEFF{}');
    expect(decodeUtf8(new Uint8Array(0))).toBe('');
  });

  it('refuses invalid UTF-8 with the offset of the first bad byte, where Buffer#toString would replace it', () => {
    const bad = bytes('{"name":"', [0xff], '"}');
    expect(bad.toString('utf8')).toContain('\uFFFD');
    let error: unknown;
    try {
      decodeUtf8(bad, 'record 0/7');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidUtf8Error);
    expect(error).toMatchObject({ code: 'INVALID_UTF8', offset: 9 });
    expect((error as Error).message).toBe('Invalid UTF-8 in record 0/7 at byte 9: refused rather than replaced with U+FFFD.');
  });

  it('finds every kind of invalid sequence', () => {
    const cases: [Buffer, number][] = [
      [bytes('ab', [0x80]), 2], // a continuation byte with no lead
      [bytes('a', [0xc0, 0xaf]), 1], // overlong lead
      [bytes('a', [0xe0, 0x80, 0xaf]), 2], // overlong three-byte form
      [bytes('a', [0xed, 0xa0, 0x80]), 2], // a UTF-16 surrogate
      [bytes('a', [0xf4, 0x90, 0x80, 0x80]), 2], // above U+10FFFF
      [bytes('a', [0xf5, 0x80, 0x80, 0x80]), 1], // no such lead
      [bytes('aé', [0xe2, 0x82]), 3], // cut short at the end
      [bytes('a', [0xe2, 0x28, 0xa1]), 2], // a bad second byte
      [bytes('a', [0xf0, 0x9f, 0x98, 0x28]), 4], // a bad fourth byte
    ];
    for (const [input, offset] of cases) {
      expect(invalidUtf8Offset(input)).toBe(offset);
      expect(() => decodeUtf8(input)).toThrow(expect.objectContaining({ offset }));
    }
    expect(invalidUtf8Offset(bytes('plain ✓ 𝄞 é'))).toBe(-1);
  });
});
