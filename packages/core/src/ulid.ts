import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_CHARS = 16;

let lastTime = -1;
const lastRandom = new Uint8Array(RANDOM_CHARS); // one base-32 digit (0..31) per char

function encodeTime(time: number): string {
  let out = '';
  let rest = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function incrementRandom(): void {
  for (let i = RANDOM_CHARS - 1; i >= 0; i--) {
    const digit = lastRandom[i] as number;
    if (digit < 31) {
      lastRandom[i] = digit + 1;
      return;
    }
    lastRandom[i] = 0;
  }
  throw new Error('ULID random part overflowed within one millisecond');
}

/**
 * A new ULID: 48 bits of milliseconds then 80 random bits, Crockford base 32.
 * Monotonic within a process: two ids made in the same millisecond (or after
 * the clock stepped back) still sort in the order they were made.
 *
 * @example
 * const id = ulid(); // '01JD3Q6Z8X4V2N5M7K9P1R3T5W'
 */
export function ulid(now: number = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    randomFillSync(lastRandom);
    for (let i = 0; i < RANDOM_CHARS; i++) lastRandom[i] = (lastRandom[i] as number) & 31;
    // Leave headroom so increments within one millisecond cannot overflow.
    lastRandom[0] = (lastRandom[0] as number) & 15;
  } else {
    incrementRandom();
  }
  let random = '';
  for (let i = 0; i < RANDOM_CHARS; i++) random += ALPHABET[lastRandom[i] as number];
  return encodeTime(lastTime) + random;
}

/** The millisecond timestamp inside a ULID. */
export function ulidTime(id: string): number {
  let time = 0;
  for (let i = 0; i < 10; i++) time = time * 32 + ALPHABET.indexOf(id.charAt(i));
  return time;
}
