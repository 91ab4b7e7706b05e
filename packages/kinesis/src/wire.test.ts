import { encodeKinesisAggregate } from '@riverlog/core/backend';
import { describe, expect, it } from 'vitest';
import { logRecordsOf } from './wire.js';

const SEQ = '49650000000000000000000000000000000000000000000000000001';
const text = (length: number) => Buffer.from(JSON.stringify({ pad: 'x'.repeat(length - 10) }));

describe('logRecordsOf', () => {
  it('hands over an envelope within maxEventBytes as an event', () => {
    const data = text(100);
    const [record] = logRecordsOf('shardId-0', { SequenceNumber: SEQ, PartitionKey: 'p-1', Data: data }, data.length);
    expect(record?.error).toBeUndefined();
    expect(record?.event).toEqual(JSON.parse(data.toString()));
  });

  it('refuses a plain record over maxEventBytes, with its size and the limit, keeping its text', () => {
    const data = text(101);
    const [record] = logRecordsOf('shardId-0', { SequenceNumber: SEQ, PartitionKey: 'p-1', Data: data }, 100);
    expect(record).toMatchObject({ position: { partition: 'shardId-0', offset: SEQ }, event: undefined, raw: data.toString() });
    expect(record?.error).toBe(
      `Kinesis record ${SEQ} is 101 bytes (data and the partition key beyond 256 bytes), over this log's maxEventBytes (100): ` +
        "riverlog never appends such an event; fix the producer that wrote it or raise maxEventBytes (up to the stream's record size less 256 bytes)",
    );
  });

  it('charges a partition key beyond the 256-byte allowance, as append does', () => {
    const data = text(100);
    const [within] = logRecordsOf('s', { SequenceNumber: SEQ, PartitionKey: 'k'.repeat(256), Data: data }, 100);
    const [over] = logRecordsOf('s', { SequenceNumber: SEQ, PartitionKey: 'k'.repeat(257), Data: data }, 100);
    expect(within?.error).toBeUndefined();
    expect(over?.error).toMatch(/is 101 bytes/);
  });

  it('refuses only the oversize sub-record of an aggregate, at its own offset', () => {
    const small = text(50);
    const large = text(150);
    const data = encodeKinesisAggregate([
      { partitionKey: 'p-1', data: small },
      { partitionKey: 'p-1', data: large },
    ]);
    const records = logRecordsOf('s', { SequenceNumber: SEQ, PartitionKey: 'p-1', Data: data }, 100);
    expect(records.map((record) => [record.position.offset, record.error === undefined])).toEqual([
      [`${SEQ}.0`, true],
      [`${SEQ}.1`, false],
    ]);
    expect(records[1]?.error).toMatch(new RegExp(`^record 1 of the aggregate at ${SEQ} is 150 bytes`));
  });
});
