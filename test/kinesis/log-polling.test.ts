// Reading Kinesis within its limits: every reader of one process shares one poller per shard
// (Kinesis allows 5 GetRecords calls per second per shard); and aggregated records read back.
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import {
  compareOffsets,
  createEvent,
  defineCatalog,
  defineEvent,
  type Envelope,
  type LogRecord,
  type ReadBatch,
  readEnds,
  t,
} from '@riverlog/core';
import { kinesisLog } from '@riverlog/kinesis';
import { until } from '@riverlog/testing';
import { afterEach, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesalite, rawClient, streamLog, uniqueStream } from './log-support.js';

const Noted = defineEvent('test/noted', { data: { n: t.number } });
const catalog = defineCatalog([Noted]);
const noted = (subject: string, n: number) => createEvent(catalog, 'test/noted', subject, { n }, { source: 'riverlog/test' });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client that notes when each GetRecords call is made. */
function timedClient(): { client: KinesisClient; getRecordsAt: number[] } {
  const client = rawClient(kinesalite);
  const getRecordsAt: number[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetRecordsCommand') getRecordsAt.push(Date.now());
      return next(args);
    },
    { step: 'initialize', name: 'timeGetRecords' },
  );
  return { client, getRecordsAt };
}

/** The most calls within any one second. */
function busiestSecond(times: readonly number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describeOn(kinesalite, 'Kinesis polling')('Kinesis reads within the limits (kinesalite)', () => {
  it('three readers of one shard in one process (three log instances on one client) share the polling: ≤ 5 GetRecords calls in any second, one call per page for all', async () => {
    const stream = uniqueStream('polling');
    const { client, getRecordsAt } = timedClient();
    const writer = streamLog(kinesalite, stream, 1);
    cleanups.push(
      () => deleteStream(kinesalite, stream),
      () => writer.close(),
    );
    await writer.append(Array.from({ length: 200 }, (_, i) => noted(`s-${i % 10}`, i)));
    // Kinesis's own limits (the defaults); 20 records a call: the backlog is 10 pages.
    const readers = [0, 1, 2].map(() => kinesisLog({ client, stream, recordsPerCall: 20 }));
    const controller = new AbortController();
    cleanups.push(async () => {
      controller.abort();
      for (const reader of readers) await reader.close();
      client.destroy();
    });
    const seen = [0, 0, 0];
    const caughtUp = [false, false, false];
    const reading = readers.map(async (reader, r) => {
      for await (const batch of reader.read({ from: 'earliest', follow: true, signal: controller.signal })) {
        seen[r] = (seen[r] as number) + batch.records.length;
        if (batch.caughtUp) caughtUp[r] = true;
      }
    });
    await until(() => caughtUp.every(Boolean) && seen.every((n) => n === 200), 'every reader through the backlog', 20_000);
    const atTip = getRecordsAt.length;
    // 3 s at the tip: one poll a second (pollIntervalMs 1,000) for the three of them.
    const idleFrom = Date.now();
    await until(() => Date.now() - idleFrom >= 3_000, '3 s at the tip', 5_000);
    controller.abort();
    await Promise.all(reading);
    expect(seen).toEqual([200, 200, 200]);
    expect(
      busiestSecond(getRecordsAt),
      `GetRecords calls at ${getRecordsAt.map((at) => at - (getRecordsAt[0] as number)).join(', ')} ms`,
    ).toBeLessThanOrEqual(5);
    // 11 pages (10 full, 1 at the tip) read once for all three readers, give or take a page.
    expect(atTip).toBeLessThanOrEqual(13);
    expect(getRecordsAt.length - atTip).toBeLessThanOrEqual(5);
  });

  it('three readers of one shard through three client objects on one endpoint (e.g. a consumer and two views, each with its own client) share one budget: ≤ 5 GetRecords calls in any second', async () => {
    const stream = uniqueStream('polling-clients');
    const writer = streamLog(kinesalite, stream, 1);
    cleanups.push(
      () => deleteStream(kinesalite, stream),
      () => writer.close(),
    );
    await writer.append(Array.from({ length: 200 }, (_, i) => noted(`s-${i % 10}`, i)));
    const getRecordsAt: number[] = [];
    const clients = [0, 1, 2].map(() => {
      const client = rawClient(kinesalite);
      client.middlewareStack.add(
        (next, context) => (args) => {
          if (context.commandName === 'GetRecordsCommand') getRecordsAt.push(Date.now());
          return next(args);
        },
        { step: 'initialize', name: 'timeGetRecords' },
      );
      return client;
    });
    // Pollers per client object would poll 5 times a second each.
    const readers = clients.map((client) => kinesisLog({ client, stream, recordsPerCall: 10 }));
    const controller = new AbortController();
    cleanups.push(async () => {
      controller.abort();
      for (const reader of readers) await reader.close();
      for (const client of clients) client.destroy();
    });
    const seen = [0, 0, 0];
    const reading = readers.map(async (reader, r) => {
      for await (const batch of reader.read({ from: 'earliest', follow: true, signal: controller.signal })) {
        seen[r] = (seen[r] as number) + batch.records.length;
      }
    });
    await until(() => seen.every((n) => n === 200), 'every reader through the backlog', 30_000);
    controller.abort();
    await Promise.all(reading);
    expect(
      busiestSecond(getRecordsAt),
      `GetRecords calls at ${getRecordsAt.map((at) => at - (getRecordsAt[0] as number)).join(', ')} ms`,
    ).toBeLessThanOrEqual(5);
  });

  it("a read that starts while a follower waits at the tip does not take the follower's older empty page for the end: readEnds sees a record appended just before", async () => {
    const stream = uniqueStream('stale-tip');
    // Same endpoint, two log instances: one poller per shard. A long wait at the tip keeps the follower's empty page around.
    const follower = streamLog(kinesalite, stream, 1, { pollIntervalMs: 5_000 });
    const other = streamLog(kinesalite, stream, 1, { pollIntervalMs: 5_000, createStream: false });
    const controller = new AbortController();
    cleanups.push(
      () => deleteStream(kinesalite, stream),
      () => follower.close(),
      () => other.close(),
      async () => controller.abort(),
    );
    await follower.append([noted('s-0', 0)]);
    let caughtUp = false;
    const reading = (async () => {
      for await (const batch of follower.read({ follow: true, signal: controller.signal })) if (batch.caughtUp) caughtUp = true;
    })();
    await until(() => caughtUp, 'the follower at the tip', 10_000);
    const [position] = await other.append([noted('s-0', 1)]);
    const ends = await readEnds(other, [position?.partition as string], {});
    expect(ends).toEqual({ [position?.partition as string]: position?.offset });
    controller.abort();
    await reading;
  });

  it('with aggregate, one append packs each subject into one Kinesis record; reads unpack them at <seq>.<index>, resume after a sub-record, and a plain log reads them too', async () => {
    const stream = uniqueStream('aggregate');
    const log = streamLog(kinesalite, stream, 2, { aggregate: true });
    const plain = streamLog(kinesalite, stream, 2);
    cleanups.push(
      () => deleteStream(kinesalite, stream),
      () => log.close(),
      () => plain.close(),
    );
    const events: Envelope[] = Array.from({ length: 60 }, (_, i) => noted(`s-${i % 3}`, i));
    const positions = await log.append(events);
    for (const position of positions) expect(position.offset).toMatch(/^\d{20,}\.\d+$/);

    // Three Kinesis records in the stream, one per subject.
    const client = rawClient(kinesalite);
    let stored = 0;
    for (const shard of (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []) {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      stored += (await client.send(new GetRecordsCommand({ ShardIterator }))).Records?.length ?? 0;
    }
    client.destroy();
    expect(stored).toBe(3);

    for (const reader of [log, plain]) {
      const batches: ReadBatch[] = [];
      for await (const batch of reader.read({ batchSize: 7 })) batches.push(batch);
      const records = batches.flatMap((b) => b.records);
      expect(records.map((r) => (r.event as Envelope).id).sort()).toEqual(events.map((e) => e.id).sort());
      const byId = new Map(records.map((r) => [(r.event as Envelope).id, r.position]));
      for (const [i, event] of events.entries()) expect(byId.get(event.id)).toEqual(positions[i]);
      for (const partition of new Set(records.map((r) => r.position.partition))) {
        const offsets = records.filter((r) => r.position.partition === partition).map((r) => r.position.offset);
        for (let i = 1; i < offsets.length; i++) expect(compareOffsets(offsets[i - 1] as string, offsets[i] as string)).toBe(-1);
      }
    }

    // Resume after the 5th sub-record of the first subject's aggregate, and at it.
    const first = positions[12] as { partition: string; offset: string };
    const read = async (from: Parameters<typeof log.read>[0] extends infer O ? (O extends { from?: infer F } ? F : never) : never) => {
      const records: LogRecord[] = [];
      for await (const batch of log.read({ from, partitions: [first.partition] })) records.push(...batch.records);
      return records.map((r) => r.position.offset);
    };
    const ofShard = positions.filter((p) => p.partition === first.partition).map((p) => p.offset);
    ofShard.sort(compareOffsets);
    const after = await read({ after: { [first.partition]: first.offset } });
    expect(after).toEqual(ofShard.filter((offset) => compareOffsets(offset, first.offset) > 0));
    const at = await read({ at: { [first.partition]: first.offset } });
    expect(at).toEqual(ofShard.filter((offset) => compareOffsets(offset, first.offset) >= 0));
    // '1.5' is still no offset: a sub-record's sequence number is a Kinesis one.
    await expect(read({ after: { [first.partition]: '1.5' } })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it("a read from a time no record reaches yet (kinesalite: read from the start, older records dropped) yields none of the older records, on any page; a time after the server's clock reads from the tip", async () => {
    const stream = uniqueStream('time-fallback');
    // Two records a GetRecords call: the older records fill several pages.
    const log = streamLog(kinesalite, stream, 1, { recordsPerCall: 2 });
    cleanups.push(
      () => deleteStream(kinesalite, stream),
      () => log.close(),
    );
    await log.append(Array.from({ length: 7 }, (_, i) => noted('s-0', i)));
    const appended = Date.now();
    await until(() => Date.now() > appended, 'a later millisecond', 1_000);
    const older: number[] = [];
    for await (const batch of log.read({ from: { time: Date.now() } }))
      for (const record of batch.records) older.push((record.event as Envelope<'test/noted', { n: number }>).data.n);
    expect(older).toEqual([]);
    // A time after the server's now (a host clock ahead of Kinesis's): Kinesis refuses it to GetShardIterator; read from the tip instead.
    const from = { time: Date.now() + 50 };
    for await (const batch of log.read({ from })) expect(batch.records).toEqual([]);
    // A record that comes later is read.
    await until(() => Date.now() > from.time, 'past the time', 1_000);
    await log.append([noted('s-0', 7)]);
    const later: number[] = [];
    for await (const batch of log.read({ from }))
      for (const record of batch.records) later.push((record.event as Envelope<'test/noted', { n: number }>).data.n);
    expect(later).toEqual([7]);
  });
});
