// Throttling, which neither emulator does: a fault middleware on the real client (faults.ts) refuses 30% of
// PutRecords entries and 30% of GetRecords calls with ProvisionedThroughputExceededException while 100,000
// events go through a producer and a consumer. Nothing acknowledged is lost, each subject's events are
// handled in order, and events an append reported refused are really absent from the stream (an append's
// events are each accepted, refused or unknown: only refused ones are claimed absent).
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createConsumer } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, type Envelope, memoryCheckpointStore, memoryDeadLetters, t } from '@riverlog/core';
import { decodeKinesisData } from '@riverlog/core/backend';
import { KinesisAppendError, kinesisLog } from '@riverlog/kinesis';
import { createProducer } from '@riverlog/producer';
import { afterAll, expect, it } from 'vitest';
import { createStream, describeOn, kinesalite, rawClient, readRaw, uniqueStream, until } from './extras-support.js';
import { injectThroughputFaults } from './faults.js';

const EVENTS = 100_000;
const SUBJECTS = 1_000;
/** Events appended at the end through a log that gives up on throttled records at once: some are refused for good. */
const TAIL = 2_000;

const catalog = defineCatalog([defineEvent('cart/add', { data: { n: t.number } })]);
const subject = (n: number) => `cart-${n % SUBJECTS}`;

const clients: KinesisClient[] = [];
afterAll(() => {
  for (const client of clients) client.destroy();
});

describeOn(kinesalite, 'throttling')('throttling (30% of PutRecords entries and GetRecords calls refused)', () => {
  it(`${EVENTS.toLocaleString('en-US')} events: 0 lost, 0 out of order per subject, refused events absent`, async () => {
    const setup = rawClient(kinesalite);
    clients.push(setup);
    const stream = uniqueStream('throttling');
    await createStream(setup, stream, 4);
    const client = rawClient(kinesalite);
    clients.push(client);
    const faults = injectThroughputFaults(client, { putRecordsEntries: 0.3, getRecordsCalls: 0.3 });
    console.log(`throttling: fault seed ${faults.seed} (injectThroughputFaults({ seed }) replays it)`);
    // A short backoff: the default (50 ms doubling to 5 s) is for real Kinesis, where throttling passes;
    // a steady 30% keeps every round throttled and its wait at the cap. The retry logic is the same.
    const retry = { initialMs: 5, maxMs: 100 };
    const producerLog = kinesisLog({ client, stream, retry });
    const tailLog = kinesisLog({ client, stream, retry, appendTimeoutMs: 1 });
    const consumerLog = kinesisLog({ client, stream, retry, pollIntervalMs: 100 });

    const handled: { id: string; subject: string; n: number }[] = [];
    const consumer = createConsumer({
      log: consumerLog,
      catalog,
      group: 'throttled',
      checkpoints: memoryCheckpointStore(),
      deadLetters: memoryDeadLetters(),
      hooks: { onError: () => {} },
      handlers: { 'cart/add': (event) => void handled.push({ id: event.id, subject: event.subject, n: event.data.n }) },
    });
    await consumer.start();

    const started = Date.now();
    const producer = createProducer({ log: producerLog, catalog, source: 'throttling' });
    const emitted = await Promise.all(Array.from({ length: EVENTS }, (_, n) => producer.emit('cart/add', subject(n), { n })));
    const produced = Date.now();

    // The tail: each append gives up after its first throttled round; what it did not accept is reported.
    const accepted = new Set(emitted.map((e) => e.id));
    const refused: Envelope[] = [];
    /** Events whose call lost its answer: they may be in the stream or not (none expected here: faults are all answers). */
    const unknown = new Set<string>();
    for (let from = EVENTS; from < EVENTS + TAIL; from += 500) {
      const events = Array.from({ length: 500 }, (_, i) =>
        createEvent(catalog, 'cart/add', subject(from + i), { n: from + i }, { source: 'tail' }),
      );
      try {
        const positions = await tailLog.append(events);
        // A resolved append acknowledges every event: one position each (a sparse array would hide refused ones).
        expect(Array.from(positions, (position) => position !== undefined)).toEqual(events.map(() => true));
        for (const event of events) accepted.add(event.id);
      } catch (error) {
        expect(error).toBeInstanceOf(KinesisAppendError);
        (error as KinesisAppendError).outcomes.forEach((outcome, i) => {
          const event = events[i] as Envelope;
          if (outcome.status === 'accepted') accepted.add(event.id);
          else if (outcome.status === 'refused') refused.push(event);
          else unknown.add(event.id);
        });
      }
    }
    expect(refused.length).toBeGreaterThan(0);

    await until(() => handled.length >= accepted.size, `${accepted.size} events handled`, 240_000);
    // Anything still in flight (a refused event wrongly written) would show up now: wait for the consumer to reach the end.
    await consumer.caughtUp({ timeoutMs: 60_000 });
    await consumer.stop();
    const consumed = Date.now();

    const ids = handled.map((h) => h.id);
    expect(new Set(ids).size, 'no event handled twice').toBe(ids.length);
    expect(
      ids.filter((id) => !accepted.has(id) && !unknown.has(id)),
      'nothing handled that was not accepted (or unknown)',
    ).toEqual([]);
    const handledIds = new Set(ids);
    expect(
      [...accepted].filter((id) => !handledIds.has(id)),
      'nothing lost',
    ).toEqual([]);
    const last = new Map<string, number>();
    const outOfOrder = handled.filter((h) => {
      const before = last.get(h.subject) ?? -1;
      last.set(h.subject, h.n);
      return h.n < before;
    });
    expect(outOfOrder, 'out of order per subject').toEqual([]);

    // Refused events are absent from the stream itself, not only from what the consumer saw.
    const stored = new Set<string>();
    for (const records of (await readRaw(setup, stream)).values()) {
      for (const record of records) {
        for (const inner of decodeKinesisData(record.Data ?? new Uint8Array())) {
          stored.add((JSON.parse(Buffer.from(inner.data).toString('utf8')) as Envelope).id);
        }
      }
    }
    expect(
      refused.filter((e) => stored.has(e.id)),
      'refused events found in the stream',
    ).toEqual([]);
    expect(
      [...stored].filter((id) => !accepted.has(id) && !unknown.has(id)),
      'stored events neither accepted nor unknown',
    ).toEqual([]);
    expect(
      [...accepted].filter((id) => !stored.has(id)),
      'accepted events missing from the stream',
    ).toEqual([]);

    const { counts } = faults;
    expect(counts.putRecordsEntriesRefused / counts.putRecordsEntries).toBeGreaterThan(0.25);
    expect(counts.getRecordsCallsRefused / counts.getRecordsCalls).toBeGreaterThan(0.2);
    console.log(
      `throttling: ${EVENTS.toLocaleString('en-US')} events produced in ${((produced - started) / 1000).toFixed(1)} s, all handled after ${((consumed - started) / 1000).toFixed(1)} s; ` +
        `PutRecords ${counts.putRecordsCalls} calls, ${counts.putRecordsEntriesRefused}/${counts.putRecordsEntries} entries refused; ` +
        `GetRecords ${counts.getRecordsCallsRefused}/${counts.getRecordsCalls} calls refused; tail: ${refused.length} of ${TAIL} refused and ${unknown.size} unknown, reported`,
    );
    await producerLog.close();
    await tailLog.close();
    await consumerLog.close();
  }, 420_000);
});
