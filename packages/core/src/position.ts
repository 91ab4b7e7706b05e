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
 * `PARTITION_END` (`'end'`, a partition read to its end) compares above every
 * offset. A record inside an aggregate (several records packed in one
 * Kinesis record) has the offset `<offset>.<index>`: after `<offset>` and its
 * lower indexes, before the next offset.
 *
 * @example
 * compareOffsets('9', '10'); // -1
 * compareOffsets('end', '99999999999999999999'); // 1
 * compareOffsets('41.2', '41.10'); // -1
 * compareOffsets('41', '41.0'); // -1
 * compareOffsets('41.7', '42'); // -1
 */
export function compareOffsets(a: string, b: string): number {
  // Plain offsets of one length (the usual case) compare as text.
  if (a.length === b.length && a.indexOf('.') < 0 && b.indexOf('.') < 0) return a < b ? -1 : a > b ? 1 : 0;
  if (a === b) return 0;
  if (a === PARTITION_END) return 1;
  if (b === PARTITION_END) return -1;
  const dotA = a.indexOf('.');
  const dotB = b.indexOf('.');
  const wholeA = dotA < 0 ? a : a.slice(0, dotA);
  const wholeB = dotB < 0 ? b : b.slice(0, dotB);
  if (wholeA.length !== wholeB.length) return wholeA.length < wholeB.length ? -1 : 1;
  if (wholeA !== wholeB) return wholeA < wholeB ? -1 : 1;
  // One record, or records of one aggregate: the record itself before its first sub-record.
  const subA = dotA < 0 ? -1 : Number(a.slice(dotA + 1));
  const subB = dotB < 0 ? -1 : Number(b.slice(dotB + 1));
  return subA < subB ? -1 : subA > subB ? 1 : 0;
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
