import { createHash } from 'node:crypto';

/**
 * The KPL aggregation format: several user records in one Kinesis record.
 * Layout: the 4 magic bytes, a protobuf `AggregatedRecord`, then the MD5 of
 * the protobuf bytes (16 bytes).
 *
 * ```proto
 * message AggregatedRecord {
 *   repeated string partition_key_table = 1;
 *   repeated string explicit_hash_key_table = 2;
 *   repeated Record records = 3;
 * }
 * message Record {
 *   required uint64 partition_key_index = 1;
 *   optional uint64 explicit_hash_key_index = 2;
 *   required bytes data = 3;
 *   repeated Tag tags = 4;
 * }
 * ```
 *
 * A record inside an aggregate sits at offset `<sequence number>.<index>`
 * (index from 0) of its shard.
 */
export const KINESIS_AGGREGATE_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);

const MAGIC_BYTES = 4;
const MD5_BYTES = 16;
/** Magic and checksum around the protobuf bytes. */
export const KINESIS_AGGREGATE_OVERHEAD = MAGIC_BYTES + MD5_BYTES;

/** One user record to aggregate, or one read out of a Kinesis record. */
export interface KinesisUserRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** One record of a Kinesis record's data: the whole data of a plain record (no key), or a record of an aggregate. */
export interface KinesisDataRecord {
  /** The record's own partition key inside an aggregate; absent for a plain record (the Kinesis record's key applies). */
  readonly partitionKey?: string;
  readonly data: Uint8Array;
}

// Protobuf wire types used here.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder('utf-8');

function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** A length-delimited field of `length` bytes: tag, length, content. */
function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

/** The bytes of one `Record` message (without its own tag and length). */
function recordMessageBytes(keyIndex: number, dataBytes: number): number {
  return 1 + varintBytes(keyIndex) + fieldBytes(dataBytes);
}

/**
 * The exact size of an aggregate as it grows, for an appender deciding when
 * it is full: `with` says what the whole Kinesis record's data would weigh
 * with one more record, `add` counts it. (Kinesis also counts the outer
 * partition key against its record limit: add it yourself.)
 *
 * @example
 * const size = new KinesisAggregateSize();
 * if (size.with(key, data.length) > maxRecordBytes - Buffer.byteLength(key)) flush();
 * size.add(key, data.length);
 */
export class KinesisAggregateSize {
  private readonly keys = new Map<string, number>();
  private protobufBytes = 0;
  private count = 0;

  /** Records counted so far. */
  get records(): number {
    return this.count;
  }

  /** The encoded aggregate's size so far (magic and MD5 included). */
  get bytes(): number {
    return KINESIS_AGGREGATE_OVERHEAD + this.protobufBytes;
  }

  /** The encoded size with one more record of this key and data length. */
  with(partitionKey: string, dataBytes: number): number {
    return this.bytes + this.growth(partitionKey, dataBytes);
  }

  add(partitionKey: string, dataBytes: number): void {
    this.protobufBytes += this.growth(partitionKey, dataBytes);
    if (!this.keys.has(partitionKey)) this.keys.set(partitionKey, this.keys.size);
    this.count++;
  }

  clear(): void {
    this.keys.clear();
    this.protobufBytes = 0;
    this.count = 0;
  }

  private growth(partitionKey: string, dataBytes: number): number {
    const known = this.keys.get(partitionKey);
    const keyIndex = known ?? this.keys.size;
    const keyTable = known === undefined ? fieldBytes(utf8.encode(partitionKey).length) : 0;
    return keyTable + fieldBytes(recordMessageBytes(keyIndex, dataBytes));
  }
}

/**
 * The encoded size of an aggregate of these records (magic and MD5 included).
 *
 * @example
 * kinesisAggregateBytes([{ partitionKey: 'p1', data }]) <= maxRecordBytes - 2;
 */
export function kinesisAggregateBytes(records: readonly KinesisUserRecord[]): number {
  const size = new KinesisAggregateSize();
  for (const record of records) size.add(record.partitionKey, record.data.length);
  return size.bytes;
}

class Writer {
  readonly bytes: Uint8Array;
  at = 0;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
  }
  varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.bytes[this.at++] = value;
  }
  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
  }
  lengthDelimited(field: number, bytes: Uint8Array): void {
    this.varint((field << 3) | LENGTH_DELIMITED);
    this.varint(bytes.length);
    this.raw(bytes);
  }
}

/**
 * Packs user records into the data of one Kinesis record (KPL aggregation
 * format), in order; partition keys are stored once each. Put the result
 * with the first record's partition key (all of them, when they share one).
 *
 * @example
 * const data = encodeKinesisAggregate([
 *   { partitionKey: 'p1', data: Buffer.from('{"a":1}') },
 *   { partitionKey: 'p1', data: Buffer.from('{"a":2}') },
 * ]);
 * await client.send(new PutRecordCommand({ StreamName, PartitionKey: 'p1', Data: data }));
 */
export function encodeKinesisAggregate(records: readonly KinesisUserRecord[]): Uint8Array {
  const keyIndex = new Map<string, number>();
  const keys: Uint8Array[] = [];
  const indexes: number[] = [];
  let protobufBytes = 0;
  for (const record of records) {
    let index = keyIndex.get(record.partitionKey);
    if (index === undefined) {
      index = keys.length;
      keyIndex.set(record.partitionKey, index);
      const key = utf8.encode(record.partitionKey);
      keys.push(key);
      protobufBytes += fieldBytes(key.length);
    }
    indexes.push(index);
    protobufBytes += fieldBytes(recordMessageBytes(index, record.data.length));
  }
  const out = new Writer(KINESIS_AGGREGATE_OVERHEAD + protobufBytes);
  out.raw(KINESIS_AGGREGATE_MAGIC);
  for (const key of keys) out.lengthDelimited(1, key);
  records.forEach((record, i) => {
    const index = indexes[i] as number;
    out.varint((3 << 3) | LENGTH_DELIMITED);
    out.varint(recordMessageBytes(index, record.data.length));
    out.varint((1 << 3) | VARINT);
    out.varint(index);
    out.lengthDelimited(3, record.data);
  });
  const protobuf = out.bytes.subarray(MAGIC_BYTES, out.at);
  out.raw(createHash('md5').update(protobuf).digest());
  return out.bytes;
}

/** Thrown inside the decoder only: the protobuf is malformed. */
class Malformed extends Error {}

class Reader {
  at: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }
  get done(): boolean {
    return this.at >= this.end;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.end) throw new Malformed();
      const byte = this.bytes[this.at++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 63) throw new Malformed();
    }
    return value;
  }
  /** The content of a length-delimited field, as a view. */
  slice(): Uint8Array {
    const length = this.varint();
    if (length > this.end - this.at) throw new Malformed();
    const start = this.at;
    this.at += length;
    return this.bytes.subarray(start, this.at);
  }
  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === LENGTH_DELIMITED) this.slice();
    else if (wireType === FIXED64 || wireType === FIXED32) {
      const length = wireType === FIXED64 ? 8 : 4;
      if (length > this.end - this.at) throw new Malformed();
      this.at += length;
    } else throw new Malformed();
  }
}

function decodeRecord(bytes: Uint8Array, keys: readonly string[]): KinesisDataRecord {
  const reader = new Reader(bytes, 0, bytes.length);
  let keyIndex: number | undefined;
  let data: Uint8Array | undefined;
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 1 && wireType === VARINT) keyIndex = reader.varint();
    else if (field === 3 && wireType === LENGTH_DELIMITED) data = reader.slice();
    else reader.skip(wireType);
  }
  if (keyIndex === undefined || data === undefined) throw new Malformed();
  const partitionKey = keys[keyIndex];
  if (partitionKey === undefined) throw new Malformed();
  return { partitionKey, data };
}

function decodeAggregate(bytes: Uint8Array): KinesisDataRecord[] {
  const reader = new Reader(bytes, MAGIC_BYTES, bytes.length - MD5_BYTES);
  const keys: string[] = [];
  const messages: Uint8Array[] = [];
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 1 && wireType === LENGTH_DELIMITED) keys.push(lenientUtf8.decode(reader.slice()));
    else if (field === 3 && wireType === LENGTH_DELIMITED) messages.push(reader.slice());
    else reader.skip(wireType);
  }
  // Records may precede the key table on the wire (protobuf fields come in any order).
  return messages.map((message) => decodeRecord(message, keys));
}

function isAggregate(bytes: Uint8Array): boolean {
  if (bytes.length < KINESIS_AGGREGATE_OVERHEAD) return false;
  for (let i = 0; i < MAGIC_BYTES; i++) if (bytes[i] !== KINESIS_AGGREGATE_MAGIC[i]) return false;
  const digest = createHash('md5')
    .update(bytes.subarray(MAGIC_BYTES, bytes.length - MD5_BYTES))
    .digest();
  const stored = bytes.subarray(bytes.length - MD5_BYTES);
  for (let i = 0; i < MD5_BYTES; i++) if (digest[i] !== stored[i]) return false;
  return true;
}

/**
 * The records a Kinesis record's data holds: the records of a KPL aggregate
 * in order (each with its partition key; none for an aggregate of none), or,
 * for anything else (no magic, an MD5 that does not match, a malformed
 * protobuf), one record: the bytes as they are, as the KPL's deaggregation
 * does. Sub-record data are views into `data`, not copies.
 *
 * @example
 * for (const [index, record] of decodeKinesisData(kinesisRecord.Data).entries()) {
 *   const offset = record.partitionKey === undefined ? sequenceNumber : `${sequenceNumber}.${index}`;
 * }
 */
export function decodeKinesisData(data: Uint8Array): KinesisDataRecord[] {
  if (!isAggregate(data)) return [{ data }];
  try {
    return decodeAggregate(data);
  } catch (error) {
    if (error instanceof Malformed) return [{ data }];
    throw error;
  }
}
