// The Kinesis log against the raw AWS SDK on the same emulator (kinesalite), in the same run:
// append (kinesisLog.append vs a PutRecords loop of the same records, same batches, API calls counted),
// read (kinesisLog.read vs a GetShardIterator/GetRecords loop that parses every record), and how often
// three readers in one process call GetRecords per shard (Kinesis allows 5 per second).
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { createEvent, defineCatalog, defineEvent, t, ulid } from '@riverlog/core';
import { kinesisLog } from '@riverlog/kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export const title = 'Kinesis';
export const about =
  'kinesalite (test/infra/kinesis.mjs, or `RIVERLOG_KINESIS_ENDPOINT`), a 4-shard stream, the SDK over HTTP/1.1 (NodeHttpHandler) on both sides. Append: both send the same envelopes (key = subject, JSON) in PutRecords calls of 500, one after another; API calls counted on the client. Read: both read every shard from TRIM_HORIZON to its end, 10,000 records per GetRecords, shards in parallel, and parse every record. Polling: three readers following the stream in one process (kinesisLog shares one poller per shard), with a trickle of appends.';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 2_000 : 20_000;
const READ_EVENTS = QUICK ? 4_000 : 40_000;
const BATCH = 500;
const SHARDS = 4;
const RUNS = QUICK ? 1 : 5;
const APPEND_RUNS = QUICK ? 1 : 5;
const POLL_SECONDS = QUICK ? 3 : 10;
const REGION = 'us-east-1';
const source = 'bench';
const catalog = defineCatalog([defineEvent('cart/add', { data: { sku: t.string, quantity: t.number } })]);
const subject = (i, subjects) => `cart-${i % subjects}`;
const payload = (i) => ({ sku: `p-${i % 997}`, quantity: (i % 5) + 1 });
const envelopes = (count, subjects) =>
  Array.from({ length: count }, (_, i) => createEvent(catalog, 'cart/add', subject(i, subjects), payload(i), { source }));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function emulator() {
  if (process.env.RIVERLOG_KINESIS_ENDPOINT) return { endpoint: process.env.RIVERLOG_KINESIS_ENDPOINT, stop: async () => {} };
  const { startKinesalite } = await import('../../test/infra/kinesis.mjs');
  return startKinesalite();
}

/** A client whose calls are counted by API action. */
function countingClient(endpoint) {
  const client = new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler(),
  });
  const calls = new Map();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchCountCalls' },
  );
  return { client, calls };
}

async function createStream(client, name) {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: SHARDS }));
  for (;;) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(20);
  }
}

async function rawAppend(endpoint, stream, events) {
  const { client, calls } = countingClient(endpoint);
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    const answer = await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: events
          .slice(i, i + BATCH)
          .map((event) => ({ PartitionKey: event.subject, Data: Buffer.from(JSON.stringify(event), 'utf8') })),
      }),
    );
    if (answer.FailedRecordCount) throw new Error(`kinesalite refused ${answer.FailedRecordCount} records`);
  }
  const rate = events.length / ((performance.now() - started) / 1000);
  client.destroy();
  return { rate, calls: calls.get('PutRecords') ?? 0 };
}

async function riverlogAppend(endpoint, stream, events, options = {}) {
  const { client, calls } = countingClient(endpoint);
  const log = kinesisLog({ client, stream, ...options });
  await log.partitions(); // connect outside the timing, as the raw client needs no connecting
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) await log.append(events.slice(i, i + BATCH));
  const rate = events.length / ((performance.now() - started) / 1000);
  await log.close();
  client.destroy();
  return { rate, calls: calls.get('PutRecords') ?? 0 };
}

async function rawRead(endpoint, stream, total) {
  const { client } = countingClient(endpoint);
  const started = performance.now();
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  const counts = await Promise.all(
    shards.map(async (shard) => {
      let count = 0;
      let iterator = (
        await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
      ).ShardIterator;
      while (iterator) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        for (const record of page.Records ?? []) {
          const event = JSON.parse(Buffer.from(record.Data.buffer, record.Data.byteOffset, record.Data.byteLength).toString('utf8'));
          if (event.type) count++;
        }
        iterator = page.NextShardIterator;
        if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
      }
      return count;
    }),
  );
  const rate = total / ((performance.now() - started) / 1000);
  client.destroy();
  const read = counts.reduce((a, b) => a + b, 0);
  if (read !== total) throw new Error(`raw read ${read} of ${total}`);
  return rate;
}

async function riverlogRead(endpoint, stream, total) {
  const { client } = countingClient(endpoint);
  const log = kinesisLog({ client, stream, pollIntervalMs: 0 });
  const started = performance.now();
  let read = 0;
  for await (const batch of log.read({ from: 'earliest', batchSize: 10_000 })) for (const record of batch.records) if (record.event) read++;
  const rate = total / ((performance.now() - started) / 1000);
  await log.close();
  client.destroy();
  if (read !== total) throw new Error(`kinesisLog read ${read} of ${total}`);
  return rate;
}

/** GetRecords calls per shard per second while three readers in this process follow the stream. */
async function pollingRate(endpoint, stream) {
  const { client, calls } = countingClient(endpoint);
  const readers = [0, 1, 2].map(() => kinesisLog({ client, stream }));
  const controller = new AbortController();
  const seen = [0, 0, 0];
  const reading = readers.map(async (log, r) => {
    for await (const batch of log.read({ from: 'latest', follow: true, signal: controller.signal })) seen[r] += batch.records.length;
  });
  const writer = kinesisLog({ client, stream });
  await sleep(500); // every reader at the tip before the count starts
  calls.set('GetRecords', 0);
  const started = performance.now();
  let written = 0;
  while (performance.now() - started < POLL_SECONDS * 1000) {
    await writer.append(envelopes(20, 20));
    written += 20;
    await sleep(100);
  }
  const getRecords = calls.get('GetRecords') ?? 0;
  const seconds = (performance.now() - started) / 1000;
  controller.abort();
  await Promise.all(reading);
  for (const log of [...readers, writer]) await log.close();
  client.destroy();
  return { rate: getRecords / SHARDS / seconds, written, seen };
}

export async function run() {
  let server;
  try {
    server = await emulator();
  } catch (error) {
    console.warn(`Kinesis benchmarks skipped: ${error.message}`);
    return [];
  }
  const { endpoint } = server;
  const admin = new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler(),
  });
  try {
    // Append: 1,000 subjects, so a batch of 500 holds one event per subject (one PutRecords each way).
    // Each measurement writes to a stream of its own: kinesalite slows down as a stream grows.
    const freshStream = async (what) => {
      const name = `bench-${what}-${ulid().toLowerCase()}`;
      await createStream(admin, name);
      return name;
    };
    const events = envelopes(EVENTS, 1_000);
    const warmStream = await freshStream('warm');
    await rawAppend(endpoint, warmStream, events.slice(0, 2 * BATCH)); // warm-up: JIT, connections
    await riverlogAppend(endpoint, warmStream, events.slice(0, 2 * BATCH));
    const raw = [];
    const ours = [];
    let rawCalls = 0;
    let ourCalls = 0;
    for (let run = 0; run < APPEND_RUNS; run++) {
      // Alternate who goes first: the machine's load drifts.
      for (const side of run % 2 === 0 ? ['raw', 'ours'] : ['ours', 'raw']) {
        const stream = await freshStream('append');
        const result = side === 'raw' ? await rawAppend(endpoint, stream, events) : await riverlogAppend(endpoint, stream, events);
        if (side === 'raw') {
          raw.push(result.rate);
          rawCalls = result.calls;
        } else {
          ours.push(result.rate);
          ourCalls = result.calls;
        }
      }
    }
    // A subject's events in one batch: 50 subjects, 10 events each per batch of 500.
    const hot = envelopes(EVENTS, 50);
    const hotRaw = await rawAppend(endpoint, await freshStream('hot'), hot);
    const hotPlain = await riverlogAppend(endpoint, await freshStream('hot'), hot);
    const hotAggregated = await riverlogAppend(endpoint, await freshStream('hot'), hot, { aggregate: true });

    // Read: a stream written once, read whole by each side in turn.
    const readStream = `bench-read-${ulid().toLowerCase()}`;
    await createStream(admin, readStream);
    const readEvents = envelopes(READ_EVENTS, 1_000);
    await rawAppend(endpoint, readStream, readEvents);
    await rawRead(endpoint, readStream, READ_EVENTS);
    await riverlogRead(endpoint, readStream, READ_EVENTS);
    const rawReads = [];
    const ourReads = [];
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) {
        rawReads.push(await rawRead(endpoint, readStream, READ_EVENTS));
        ourReads.push(await riverlogRead(endpoint, readStream, READ_EVENTS));
      } else {
        ourReads.push(await riverlogRead(endpoint, readStream, READ_EVENTS));
        rawReads.push(await rawRead(endpoint, readStream, READ_EVENTS));
      }
    }

    const polling = await pollingRate(endpoint, readStream);

    const bytes = Buffer.byteLength(JSON.stringify(events[0]));
    const note = `${EVENTS.toLocaleString('en-US')} events of ~${bytes} B, ${SHARDS} shards, a fresh stream each; median of ${APPEND_RUNS}`;
    return [
      {
        name: `kinesisLog.append, batches of ${BATCH} (1,000 subjects: one event per subject per batch)`,
        unit: 'events/s',
        riverlog: median(ours),
        baselineName: `PutRecords loop of the same records, ${BATCH} per call`,
        baseline: median(raw),
        minRatio: 0.9,
        note: `${note}; PutRecords calls: riverlog ${ourCalls}, raw ${rawCalls}${ourCalls > rawCalls ? ' ❌ more calls' : ' (no more) ✅'}`,
      },
      {
        name: 'kinesisLog.append, 50 subjects (10 events per subject per batch): plain, then aggregate: true',
        unit: 'events/s',
        riverlog: hotPlain.rate,
        baselineName: `PutRecords loop, ${BATCH} per call (no per-subject order across partial failures)`,
        baseline: hotRaw.rate,
        note: `one run; PutRecords calls: plain ${hotPlain.calls} (at most one record per subject in flight: 10 rounds per batch), aggregate ${hotAggregated.calls} at ${Math.round(hotAggregated.rate).toLocaleString('en-US')} events/s, raw ${hotRaw.calls}`,
      },
      {
        name: 'kinesisLog.read from earliest to the end (records parsed)',
        unit: 'events/s',
        riverlog: median(ourReads),
        baselineName: 'GetShardIterator + GetRecords loop per shard (Limit 10,000, shards in parallel), JSON.parse each',
        baseline: median(rawReads),
        minRatio: 0.85,
        note: `${READ_EVENTS.toLocaleString('en-US')} events, ${SHARDS} shards; median of ${RUNS}`,
      },
      {
        name: 'GetRecords calls per shard per second, three readers following in one process',
        unit: 'calls/shard/s',
        riverlog: polling.rate,
        maxAbsolute: 5,
        note: `${POLL_SECONDS} s at the tip, ${polling.written} events appended meanwhile; seen by the readers: ${polling.seen.join(', ')} (Kinesis allows 5 calls per shard per second for all readers together)`,
      },
    ];
  } finally {
    admin.destroy();
    await server.stop();
  }
}
