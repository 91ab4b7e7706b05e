import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeKinesisData,
  encodeKinesisAggregate,
  KINESIS_AGGREGATE_OVERHEAD,
  KinesisAggregateSize,
  kinesisAggregateBytes,
} from './kinesis-wire.js';

const magic = [0xf3, 0x89, 0x9a, 0xc2];
const md5 = (bytes: number[]) => [...createHash('md5').update(Uint8Array.from(bytes)).digest()];
const framed = (protobuf: number[]) => Uint8Array.from([...magic, ...protobuf, ...md5(protobuf)]);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('encodeKinesisAggregate', () => {
  it('writes the KPL layout byte for byte: magic, key table, records, MD5 of the protobuf', () => {
    const protobuf = [0x0a, 0x01, 0x61, 0x1a, 0x06, 0x08, 0x00, 0x1a, 0x02, 0x01, 0x02];
    expect([...encodeKinesisAggregate([{ partitionKey: 'a', data: Uint8Array.of(1, 2) }])]).toEqual([...framed(protobuf)]);
  });

  it('stores each partition key once and indexes it from the records', () => {
    const encoded = encodeKinesisAggregate([
      { partitionKey: 'a', data: Uint8Array.of(7) },
      { partitionKey: 'b', data: Uint8Array.of(8) },
      { partitionKey: 'a', data: Uint8Array.of(9) },
    ]);
    const protobuf = [
      [0x0a, 0x01, 0x61],
      [0x0a, 0x01, 0x62],
      [0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 7],
      [0x1a, 0x05, 0x08, 0x01, 0x1a, 0x01, 8],
      [0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 9],
    ].flat();
    expect([...encoded]).toEqual([...framed(protobuf)]);
  });

  it('round-trips through decodeKinesisData, in order, with multi-byte keys and lengths past one varint byte', () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      partitionKey: i % 3 === 0 ? 'produit-é-😀' : `subject-${i % 7}`,
      data: new Uint8Array(i * 61).fill(i % 251),
    }));
    records.push({ partitionKey: 'big', data: new Uint8Array(70_000).fill(3) });
    const decoded = decodeKinesisData(encodeKinesisAggregate(records));
    expect(decoded.map((r) => r.partitionKey)).toEqual(records.map((r) => r.partitionKey));
    expect(decoded.map((r) => Buffer.from(r.data).toString('hex'))).toEqual(records.map((r) => Buffer.from(r.data).toString('hex')));
  });

  it('encodes an empty list as an aggregate of no records', () => {
    const encoded = encodeKinesisAggregate([]);
    expect(encoded.length).toBe(KINESIS_AGGREGATE_OVERHEAD);
    expect(decodeKinesisData(encoded)).toEqual([]);
  });
});

describe('decodeKinesisData', () => {
  it('returns a plain record as it is, without a partition key', () => {
    const data = Buffer.from('{"type":"product/create"}');
    const decoded = decodeKinesisData(data);
    expect(decoded).toHaveLength(1);
    expect(decoded[0]?.partitionKey).toBeUndefined();
    expect(decoded[0]?.data).toBe(data);
  });

  it('returns the bytes as they are when the MD5 does not match, the magic is cut short, or the protobuf is malformed', () => {
    const good = encodeKinesisAggregate([{ partitionKey: 'a', data: Buffer.from('x') }]);
    const badSum = Uint8Array.from(good);
    badSum[badSum.length - 1] = (good[good.length - 1] as number) ^ 1;
    const badBody = Uint8Array.from(good);
    badBody[6] = (good[6] as number) ^ 1;
    const short = Uint8Array.of(...magic, 1, 2);
    // Right magic and MD5 around bytes that are no AggregatedRecord: a length running past the end.
    const malformed = framed([0x1a, 0x7f, 0x08]);
    // A record pointing at a key the table does not have.
    const missingKey = framed([0x1a, 0x05, 0x08, 0x03, 0x1a, 0x01, 7]);
    for (const bytes of [badSum, badBody, short, malformed, missingKey, Uint8Array.of()]) {
      expect(decodeKinesisData(bytes)).toEqual([{ data: bytes }]);
    }
  });

  it('reads what other writers may add: explicit hash keys, tags, unknown fields, records before the key table', () => {
    const tag = [0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]; // Tag { key: 'k', value: 'v' }
    const record = [0x08, 0x00, 0x10, 0x00, 0x1a, 0x02, 0x68, 0x69, 0x22, tag.length, ...tag, 0x2d, 1, 2, 3, 4];
    const protobuf = [
      [0x1a, record.length, ...record],
      [0x0a, 0x02, 0x70, 0x31],
      [0x12, 0x03, 0x31, 0x32, 0x33], // explicit_hash_key_table
      [0x48, 0x96, 0x01], // field 9, varint: unknown
      [0x51, 1, 2, 3, 4, 5, 6, 7, 8], // field 10, fixed64: unknown
    ].flat();
    const decoded = decodeKinesisData(framed(protobuf));
    expect(decoded.map((r) => [r.partitionKey, text(r.data)])).toEqual([['p1', 'hi']]);
  });
});

describe('KinesisAggregateSize', () => {
  it('predicts the encoded size exactly, record by record', () => {
    const size = new KinesisAggregateSize();
    const records: { partitionKey: string; data: Uint8Array }[] = [];
    expect(size.bytes).toBe(encodeKinesisAggregate([]).length);
    for (let i = 0; i < 400; i++) {
      const record = { partitionKey: i % 5 === 0 ? `k-${i}-ü` : 'same', data: new Uint8Array((i * 97) % 20_000) };
      records.push(record);
      const predicted = size.with(record.partitionKey, record.data.length);
      size.add(record.partitionKey, record.data.length);
      expect(size.bytes).toBe(predicted);
      if (i % 37 === 0) expect(size.bytes).toBe(encodeKinesisAggregate(records).length);
    }
    expect(size.records).toBe(400);
    expect(size.bytes).toBe(encodeKinesisAggregate(records).length);
    expect(kinesisAggregateBytes(records)).toBe(size.bytes);
    size.clear();
    expect(size.bytes).toBe(KINESIS_AGGREGATE_OVERHEAD);
    expect(size.records).toBe(0);
  });
});
