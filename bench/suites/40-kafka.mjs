// The Kafka log against raw kafkajs on the same broker, in the same run:
// produce (kafkaLog.append vs producer.send, equal batches) and consume
// (kafkaLog.subscribe vs a raw eachBatch loop that parses and commits per batch).
import { createConsumer } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, memoryDeadLetters, t, ulid } from '@riverlog/core';
import { kafkaLog } from '@riverlog/kafka';
import { Kafka, logLevel } from 'kafkajs';

export const title = 'Kafka';
export const about =
  'One local broker (test/infra/kafka.mjs, or `RIVERLOG_KAFKA_BROKERS`), a 3-partition topic. Both sides use an idempotent producer with acks=all and send batches of the same size one after another; both consumers commit offsets after each batch.';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 2_000 : 100_000;
const BATCH = 500;
const PARTITIONS = 3;
const RUNS = QUICK ? 1 : 5;
/** The consume topic holds this many times EVENTS: reading 100,000 takes well under a second. */
const CONSUME_COPIES = 3;
// What kafkaLog puts on every record (CloudEvents structured mode); the fair raw baseline sends it too.
const HEADERS = { 'content-type': 'application/cloudevents+json; charset=UTF-8' };
const source = 'bench';
const catalog = defineCatalog([defineEvent('cart/add', { data: { sku: t.string, quantity: t.number } })]);
const subject = (i) => `cart-${i % 1000}`;
const payload = (i) => ({ sku: `p-${i % 997}`, quantity: (i % 5) + 1 });
const envelopes = () => Array.from({ length: EVENTS }, (_, i) => createEvent(catalog, 'cart/add', subject(i), payload(i), { source }));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function broker() {
  if (process.env.RIVERLOG_KAFKA_BROKERS) return { brokers: process.env.RIVERLOG_KAFKA_BROKERS.split(','), stop: async () => {} };
  const { startKafka } = await import('../../test/infra/kafka.mjs');
  return startKafka();
}

async function createTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  for (;;) {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
    const partitions = metadata?.topics[0]?.partitions ?? [];
    if (
      partitions.length === PARTITIONS &&
      partitions.every((p) => p.leader >= 0) &&
      (await admin.fetchTopicOffsets(topic).catch(() => false))
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await admin.disconnect();
}

async function rawProduce(kafka, topic, withHeader) {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const events = envelopes();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH) {
    const messages = events
      .slice(i, i + BATCH)
      .map((event) =>
        withHeader
          ? { key: event.subject, value: JSON.stringify(event), headers: HEADERS }
          : { key: event.subject, value: JSON.stringify(event) },
      );
    await producer.send({ topic, acks: -1, messages });
  }
  const rate = EVENTS / ((performance.now() - started) / 1000);
  await producer.disconnect();
  return rate;
}

async function riverlogProduce(brokers, topic) {
  const log = kafkaLog({ brokers, topic, logLevel: 'nothing' });
  const events = envelopes();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH) await log.append(events.slice(i, i + BATCH));
  const rate = EVENTS / ((performance.now() - started) / 1000);
  await log.close();
  return rate;
}

/** Counts consumed records toward `total`, timed from the first batch; `finished` resolves at `total`. */
function countTo(total) {
  let count = 0;
  let started;
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  return {
    finished,
    begin() {
      started ??= performance.now();
    },
    add(records) {
      count += records;
      if (count >= total) done();
    },
    rate: () => total / ((performance.now() - started) / 1000),
  };
}

async function rawConsume(kafka, topic, total) {
  const consumer = kafka.consumer({ groupId: `bench-raw-${ulid()}`, maxWaitTimeInMs: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const tally = countTo(total);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch, resolveOffset }) => {
      tally.begin();
      let last;
      let count = 0;
      for (const message of batch.messages) {
        const event = JSON.parse(message.value.toString('utf8'));
        if (event.type) count++;
        last = message.offset;
      }
      if (last === undefined) return;
      resolveOffset(last);
      await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      tally.add(count);
    },
  });
  await tally.finished;
  const rate = tally.rate();
  await consumer.disconnect();
  return rate;
}

async function riverlogConsume(brokers, topic, total) {
  const log = kafkaLog({ brokers, topic, logLevel: 'nothing' });
  const tally = countTo(total);
  const subscription = await log.subscribe({
    group: `bench-riverlog-${ulid()}`,
    onBatch: async (batch) => {
      tally.begin();
      let count = 0;
      for (const record of batch.records) if (record.event) count++;
      tally.add(count);
    },
  });
  await tally.finished;
  const rate = tally.rate();
  await subscription.stop();
  await log.close();
  return rate;
}

async function consumerConsume(brokers, topic, total) {
  const log = kafkaLog({ brokers, topic, logLevel: 'nothing' });
  const tally = countTo(total);
  // No `checkpoints`: a group member of the log's own group keeps its one checkpoint in the group offsets.
  const consumer = createConsumer({
    log,
    catalog,
    group: `bench-consumer-${ulid()}`,
    deadLetters: memoryDeadLetters(),
    handlers: {
      'cart/add': () => {
        tally.begin();
        tally.add(1);
      },
    },
  });
  await consumer.start();
  await tally.finished;
  const rate = tally.rate();
  await consumer.stop();
  await log.close();
  return rate;
}

export async function run() {
  let server;
  try {
    server = await broker();
  } catch (error) {
    console.warn(`Kafka benchmarks skipped: ${error.message}`);
    return [];
  }
  const { brokers } = server;
  const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
  try {
    const produceTopic = `bench-produce-${ulid().toLowerCase()}`;
    await createTopic(kafka, produceTopic);
    // warm-up: JIT, connections, the group coordinator
    await riverlogProduce(brokers, produceTopic);
    await rawProduce(kafka, produceTopic, true);
    const raw = [];
    const bare = [];
    const ours = [];
    // Alternate who goes first: the machine's load drifts.
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) {
        raw.push(await rawProduce(kafka, produceTopic, true));
        ours.push(await riverlogProduce(brokers, produceTopic));
      } else {
        ours.push(await riverlogProduce(brokers, produceTopic));
        raw.push(await rawProduce(kafka, produceTopic, true));
      }
      bare.push(await rawProduce(kafka, produceTopic, false));
    }

    const consumeTopic = `bench-consume-${ulid().toLowerCase()}`;
    await createTopic(kafka, consumeTopic);
    for (let copy = 0; copy < CONSUME_COPIES; copy++) await riverlogProduce(brokers, consumeTopic);
    const total = EVENTS * CONSUME_COPIES;
    await rawConsume(kafka, consumeTopic, total);
    await riverlogConsume(brokers, consumeTopic, total);
    await consumerConsume(brokers, consumeTopic, total);
    const rawReads = [];
    const ourReads = [];
    const consumerReads = [];
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) {
        rawReads.push(await rawConsume(kafka, consumeTopic, total));
        ourReads.push(await riverlogConsume(brokers, consumeTopic, total));
      } else {
        ourReads.push(await riverlogConsume(brokers, consumeTopic, total));
        rawReads.push(await rawConsume(kafka, consumeTopic, total));
      }
      consumerReads.push(await consumerConsume(brokers, consumeTopic, total));
    }

    const bytes = Buffer.byteLength(JSON.stringify(createEvent(catalog, 'cart/add', subject(1), payload(1), { source })));
    const note = `${EVENTS.toLocaleString('en-US')} events of ${bytes} B, ${PARTITIONS} partitions; median of ${RUNS}`;
    const consumeNote = `${total.toLocaleString('en-US')} events of ${bytes} B, ${PARTITIONS} partitions; median of ${RUNS}`;
    return [
      {
        name: `kafkaLog.append, batches of ${BATCH} (idempotent, acks=all, key = subject, structured CloudEvents)`,
        unit: 'events/s',
        riverlog: median(ours),
        baselineName: `kafkajs producer.send of the same records (key, JSON value, content-type header), batches of ${BATCH}, idempotent, acks=all`,
        baseline: median(raw),
        minRatio: 0.85,
        note,
      },
      {
        name: 'kafkaLog.append, as above',
        unit: 'events/s',
        riverlog: median(ours),
        baselineName: 'kafkajs producer.send without the content-type header',
        baseline: median(bare),
        note: `${note}; for information: kafkajs encodes each header with a fresh 512-byte buffer, which is most of the difference`,
      },
      {
        name: 'kafkaLog.subscribe (consumer group, records parsed, commit after each batch)',
        unit: 'events/s',
        riverlog: median(ourReads),
        baselineName: 'kafkajs consumer.run eachBatch: JSON.parse each value, commit after each batch',
        baseline: median(rawReads),
        minRatio: 0.85,
        note: `${consumeNote}; timed from the first batch to the last`,
      },
      {
        name: 'createConsumer on the Kafka log (group member; each event decoded and validated against the catalog, then handled)',
        unit: 'events/s',
        riverlog: median(consumerReads),
        baselineName: 'kafkajs consumer.run eachBatch: JSON.parse each value, commit after each batch',
        baseline: median(rawReads),
        note: `${consumeNote}; the consumer's one checkpoint is the group offsets, committed after each batch`,
      },
    ];
  } finally {
    await server.stop();
  }
}
