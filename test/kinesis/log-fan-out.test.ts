// kinesisLog({ fanOut }) reads through enhanced fan-out (SubscribeToShard) with the same batches,
// offsets and caught-up signal as polling: on kinesis-local, which serves it over HTTP/1.1.
import { createEvent, defineCatalog, defineEvent, type Envelope, type LogRecord, t } from '@riverlog/core';
import { until } from '@riverlog/testing';
import { afterEach, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesisLocal, streamLog, uniqueStream } from './log-support.js';

const Noted = defineEvent('test/noted', { data: { n: t.number } });
const catalog = defineCatalog([Noted]);
const noted = (subject: string, n: number) => createEvent(catalog, 'test/noted', subject, { n }, { source: 'riverlog/test' });

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describeOn(kinesisLocal, 'Kinesis fan-out log')('kinesisLog with fanOut (kinesis-local)', () => {
  it('reads what polling reads, caught up per shard, and follows a later append', async () => {
    const stream = uniqueStream('fanout-log');
    const writer = streamLog(kinesisLocal, stream, 2);
    const reader = streamLog(kinesisLocal, stream, 2, { fanOut: { consumerName: 'riverlog-test' } });
    cleanups.push(
      () => deleteStream(kinesisLocal, stream),
      () => writer.close(),
      () => reader.close(),
    );
    const events: Envelope[] = Array.from({ length: 40 }, (_, i) => noted(`s-${i % 5}`, i));
    const positions = await writer.append(events);
    const polled: LogRecord[] = [];
    for await (const batch of writer.read()) polled.push(...batch.records);

    const controller = new AbortController();
    const seen: LogRecord[] = [];
    const caughtUp = new Set<string>();
    let failure: unknown;
    const reading = (async () => {
      for await (const batch of reader.read({ follow: true, signal: controller.signal })) {
        seen.push(...batch.records);
        if (batch.caughtUp) caughtUp.add(batch.partition);
      }
    })().catch((error: unknown) => {
      failure = error;
    });
    await until(
      () => seen.length === 40 && caughtUp.size === 2,
      'the 40 records and a caught-up batch per shard',
      60_000,
      () => failure,
    );
    expect(seen.map((r) => r.position).sort((a, b) => (a.offset < b.offset ? -1 : 1))).toEqual(
      polled.map((r) => r.position).sort((a, b) => (a.offset < b.offset ? -1 : 1)),
    );
    const [later] = await writer.append([noted('s-9', 99)]);
    await until(
      () => seen.length === 41,
      'the later append',
      60_000,
      () => failure,
    );
    expect(seen[40]?.position).toEqual(later);
    controller.abort();
    await reading;
    expect(failure).toBeUndefined();
    expect(positions).toHaveLength(40);
  });
});
