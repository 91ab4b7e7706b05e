import { PARTITION_END } from './ports.js';

/**
 * Where a recorded event sits in a log. `offset` is the backend's own
 * (SQLite sequence, Kafka offset, Kinesis sequence number), kept as a string
 * of decimal digits and compared within its partition only.
 */
export interface Position {
  readonly partition: string;
  readonly offset: string;
}

/** The last offset reached per partition: a checkpoint. */
export type PositionMap = Readonly<Record<string, string>>;

/**
 * Compares two offsets of one partition. Offsets are non-negative decimal
 * strings of any length (Kinesis sequence numbers exceed 2^53);
 * `PARTITION_END` (`'end'`, a partition read to its end) compares above every offset.
 *
 * @example
 * compareOffsets('9', '10'); // -1
 * compareOffsets('end', '99999999999999999999'); // 1
 */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length || a === PARTITION_END || b === PARTITION_END) {
    if (a === b) return 0;
    if (a === PARTITION_END) return 1;
    if (b === PARTITION_END) return -1;
    return a.length < b.length ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The map with `position` applied, when it is past what the map holds for
 * its partition; otherwise the same map.
 *
 * @example
 * advance({ '0': '4' }, { partition: '0', offset: '7' }); // { '0': '7' }
 */
export function advance(map: PositionMap, position: Position): PositionMap {
  const current = map[position.partition];
  if (current !== undefined && compareOffsets(current, position.offset) >= 0) return map;
  return { ...map, [position.partition]: position.offset };
}

/**
 * A stable partition for a subject: FNV-1a 32-bit hash modulo `count`.
 * Every log that chooses partitions itself uses this, so one subject maps to
 * the same partition number on the memory and SQLite logs.
 *
 * @example
 * partitionForSubject('product-42', 4); // a number in 0..3, always the same
 */
export function partitionForSubject(subject: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
