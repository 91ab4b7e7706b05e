import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_CHARS = 16;
const POOL_SIZE = 4096;

let lastTime = -1;
let timePart = '';
const digits = new Uint8Array(RANDOM_CHARS); // one base-32 digit (0..31) per char
let randomPart = '';

// Random bytes are drawn from a pool refilled in bulk: one system call per 256 ids.
const pool = new Uint8Array(POOL_SIZE);
let poolUsed = POOL_SIZE;

function encodeTime(time: number): string {
  let out = '';
  let rest = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function freshRandom(): void {
  if (poolUsed + RANDOM_CHARS > POOL_SIZE) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  for (let i = 0; i < RANDOM_CHARS; i++) digits[i] = (pool[poolUsed + i] as number) & 31;
  poolUsed += RANDOM_CHARS;
  // Leave headroom so increments within one millisecond cannot overflow.
  digits[0] = (digits[0] as number) & 15;
  randomPart = '';
  for (let i = 0; i < RANDOM_CHARS; i++) randomPart += ALPHABET[digits[i] as number];
}

function incrementRandom(): void {
  let i = RANDOM_CHARS - 1;
  while (i >= 0 && digits[i] === 31) {
    digits[i] = 0;
    i--;
  }
  if (i < 0) throw new Error('ULID random part overflowed within one millisecond');
  digits[i] = (digits[i] as number) + 1;
  let tail = '';
  for (let j = i; j < RANDOM_CHARS; j++) tail += ALPHABET[digits[j] as number];
  randomPart = randomPart.slice(0, i) + tail;
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
    timePart = encodeTime(now);
    freshRandom();
  } else {
    incrementRandom();
  }
  return timePart + randomPart;
}

/** The millisecond timestamp inside a ULID. */
export function ulidTime(id: string): number {
  let time = 0;
  for (let i = 0; i < 10; i++) time = time * 32 + ALPHABET.indexOf(id.charAt(i));
  return time;
}
