// Records that riverlog did not write, put on a Kinesis stream by a raw SDK producer: the broken ones
// (not JSON, a wrong schema, an unknown type, truncated base64, invalid UTF-8, oversize, a bad record inside
// a KPL aggregate) land in a dead-letter stream with their reasons; the good ones are handled; the shard
// keeps moving past them.
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { createConsumer, deadLetterCatalog, logDeadLetters } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, type Envelope, memoryCheckpointStore, t } from '@riverlog/core';
import { encodeKinesisAggregate } from '@riverlog/core/backend';
import { kinesisLog } from '@riverlog/kinesis';
import { afterAll, expect, it } from 'vitest';
import { createStream, describeOn, kinesalite, listShards, rawClient, uniqueStream } from './extras-support.js';

const catalog = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string } })]);
const good = (id: string, name = `Boot ${id}`) => createEvent(catalog, 'product/create', id, { id, name }, { source: 'raw' });
const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describeOn(kinesalite, 'bad input')('bad input written by a raw SDK producer', () => {
  it('dead-letters each kind with its reason and position, handles the good records, and the shard moves on', async () => {
    const client: KinesisClient = rawClient(kinesalite);
    closers.push(() => client.destroy());
    const stream = uniqueStream('bad-input');
    const deadLetterStream = uniqueStream('bad-input-dlq');
    await createStream(client, stream, 1);
    await createStream(client, deadLetterStream, 1);
    const log = kinesisLog({ client, stream, pollIntervalMs: 50 });
    const deadLetterLog = kinesisLog({ client, stream: deadLetterStream });
    closers.push(
      () => log.close(),
      () => deadLetterLog.close(),
    );

    const maxEventBytes = log.maxEventBytes;
    const envelopeText = JSON.stringify(good('p-4'));
    const withAccent = bytes(good('p-5', 'Bottes à talons'));
    // A valid envelope 100 bytes over what the log accepts, still within Kinesis's 1 MiB record.
    const big = good('p-7', 'x'.repeat(maxEventBytes - JSON.stringify(good('p-7', '')).length + 100));
    const records: { key: string; data: Uint8Array; what: string }[] = [
      { key: 'p-1', data: bytes(good('p-1')), what: 'good' },
      { key: 'x', data: bytes('{"specversion":"1.0", "id": '), what: 'not JSON' },
      { key: 'p-3', data: bytes({ ...good('p-3'), data: { id: 'p-3', name: 42 } }), what: 'wrong schema' },
      { key: 'p-2', data: bytes({ ...good('p-2'), type: 'product/teleported', dataschema: 'product/teleported@1' }), what: 'unknown type' },
      // A producer that base64-encoded the envelope itself and cut it short: the record holds base64 text.
      { key: 'p-4', data: bytes(Buffer.from(envelopeText).toString('base64').slice(0, -5)), what: 'truncated base64 text' },
      // Base64 cut on a 4-character boundary decodes (Kinesis takes it) to JSON cut inside the 2-byte 'à'.
      { key: 'p-5', data: withAccent.subarray(0, withAccent.indexOf(0xc3) + 1), what: 'truncated base64 bytes' },
      {
        key: 'x',
        data: Buffer.concat([bytes('{"specversion":"1.0","id":"'), Buffer.from([0xff, 0xfe]), bytes('"}')]),
        what: 'invalid UTF-8',
      },
      { key: 'p-7', data: bytes(big), what: 'oversize' },
      {
        key: 'p-8',
        data: encodeKinesisAggregate([
          { partitionKey: 'p-8', data: bytes('not json inside an aggregate') },
          { partitionKey: 'p-8', data: bytes(good('p-8')) },
        ]),
        what: 'aggregate with a bad record',
      },
      { key: 'p-9', data: bytes(good('p-9')), what: 'good, last' },
    ];
    expect(records[7]?.data.length).toBeGreaterThan(maxEventBytes);
    expect((records[7]?.data.length ?? 0) + 3).toBeLessThanOrEqual(1024 * 1024);
    const sequence: string[] = [];
    // One at a time: PutRecords takes 5 MiB at most and the oversize record is ~1 MiB.
    for (const record of records) {
      const answer = await client.send(
        new PutRecordsCommand({ StreamName: stream, Records: [{ PartitionKey: record.key, Data: record.data }] }),
      );
      expect(answer.FailedRecordCount ?? 0, record.what).toBe(0);
      sequence.push(answer.Records?.[0]?.SequenceNumber as string);
    }
    const shardId = (await listShards(client, stream))[0]?.ShardId as string;

    const handled: string[] = [];
    const consumer = createConsumer({
      log,
      catalog,
      group: 'bad-input',
      checkpoints: memoryCheckpointStore(),
      deadLetters: logDeadLetters(deadLetterLog),
      onUnreadable: 'dead-letter',
      handlers: { 'product/create': (event) => void handled.push(event.data.id) },
    });
    closers.push(() => consumer.stop());
    await consumer.start();
    const reached = await consumer.caughtUp({ timeoutMs: 60_000 });
    await consumer.stop();
    expect(handled).toEqual(['p-1', 'p-8', 'p-9']);
    // The shard moved past everything: the checkpoint is the last record's.
    expect(reached[shardId]).toBe(sequence[9]);

    const letters = new Map<string, { code: string; reason: string; raw: string | null; truncated: boolean; event: unknown }>();
    for await (const batch of deadLetterLog.read()) {
      for (const record of batch.records) {
        const decoded = deadLetterCatalog.decode(record.event);
        if (decoded._tag === 'Left') throw decoded.left;
        const letter = decoded.right.data;
        expect(letter.partition).toBe(shardId);
        letters.set(letter.offset, letter);
      }
    }
    const at = (i: number, sub?: number) => (sub === undefined ? (sequence[i] as string) : `${sequence[i]}.${sub}`);
    expect([...letters.keys()].sort()).toEqual([at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8, 0)].sort());
    const letter = (offset: string) => letters.get(offset) as NonNullable<ReturnType<typeof letters.get>>;
    expect(letter(at(1))).toMatchObject({ code: 'DECODE_FAILED', raw: '{"specversion":"1.0", "id": ' });
    expect(letter(at(1)).reason).toMatch(/not JSON/);
    expect(letter(at(2)).code).toBe('DECODE_FAILED');
    expect(letter(at(2)).reason).toContain('data.name: expected string, got 42');
    expect((letter(at(2)).event as Envelope).subject).toBe('p-3');
    expect(letter(at(3)).code).toBe('UNKNOWN_EVENT_TYPE');
    expect(letter(at(3)).reason).toContain('product/teleported');
    expect(letter(at(4)).code).toBe('DECODE_FAILED');
    expect(letter(at(4)).reason).toMatch(/not JSON/);
    expect(letter(at(5)).code).toBe('DECODE_FAILED');
    expect(letter(at(5)).reason).toMatch(/UTF-8/);
    expect(letter(at(6)).code).toBe('DECODE_FAILED');
    expect(letter(at(6)).reason).toMatch(/UTF-8/);
    expect(letter(at(7)).reason).toMatch(/too large|larger|exceeds|oversize|maxEventBytes/i);
    expect(letter(at(7)).truncated).toBe(true);
    expect(letter(at(8, 0)).code).toBe('DECODE_FAILED');
    expect(letter(at(8, 0)).raw).toBe('not json inside an aggregate');
  });
});
