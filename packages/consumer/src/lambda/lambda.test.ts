import {
  createEvent,
  type DeadLetter,
  type DeadLetterSink,
  defineCatalog,
  defineEvent,
  type Envelope,
  ignore,
  memoryDeadLetters,
  t,
} from '@riverlog/core';
import type { Context, KinesisStreamEvent, KinesisStreamRecord, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { kafkaHandler } from './kafka.js';
import { kinesisHandler } from './kinesis.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string } }),
]);
const create = (subject: string, name = subject) =>
  createEvent(catalog, 'product/create', subject, { id: subject, name }, { source: 'test' });
const purchase = (subject: string) => createEvent(catalog, 'product/purchase', subject, { id: subject }, { source: 'test' });
const unknownType = (subject: string) => ({ ...purchase(subject), type: 'product/return', dataschema: 'product/return@1' });
const schemaInvalid = (subject: string) => ({ ...create(subject), data: { id: subject, name: 5 } });

function lambdaContext(remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'retail-consumer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:retail-consumer',
    memoryLimitInMB: '256',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/retail-consumer',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

// ---------- Kinesis ----------

const SHARD = 'shardId-000000000007';
/** Real sequence numbers exceed 2^53: keep them as strings. */
const seq = (n: number) => `4959033827149025660855969253836157109592157598913658${String(n).padStart(4, '0')}`;

function kinesisRecord(n: number, partitionKey: string, data: unknown): KinesisStreamRecord {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return {
    awsRegion: 'eu-west-1',
    eventID: `${SHARD}:${seq(n)}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail',
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/retail-consumer',
    kinesis: {
      approximateArrivalTimestamp: 1_714_557_600,
      data: Buffer.from(text).toString('base64'),
      kinesisSchemaVersion: '1.0',
      partitionKey,
      sequenceNumber: seq(n),
    },
  };
}

const kinesisEvent = (...records: KinesisStreamRecord[]): KinesisStreamEvent => ({ Records: records });

const summary = (letters: readonly DeadLetter[]) =>
  letters
    .map((l) => ({
      group: l.group,
      code: l.code,
      partition: l.record.position.partition,
      offset: l.record.position.offset,
      reason: l.reason,
    }))
    .sort((a, b) => a.offset.localeCompare(b.offset, 'en', { numeric: true }));

describe('kinesisHandler', () => {
  it('dead-letters poison records with reason and position and goes on with the batch', async () => {
    const deadLetters = memoryDeadLetters();
    const handled: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters,
      onUnreadable: 'dead-letter',
      handlers: {
        'product/create': (event, context) => {
          handled.push(`${event.type} ${event.subject} ${context.position.offset} ${context.lambda.functionName}`);
        },
        'product/purchase': (event, context) => {
          handled.push(`${event.type} ${event.subject} ${context.position.offset} ${context.lambda.functionName}`);
        },
      },
    });
    const response = await handler(
      kinesisEvent(
        kinesisRecord(1, 'p1', create('p1')),
        kinesisRecord(2, 'p2', '{"specversion": "1.0", '),
        kinesisRecord(3, 'p3', unknownType('p3')),
        kinesisRecord(4, 'p4', schemaInvalid('p4')),
        kinesisRecord(5, 'p1', purchase('p1')),
        kinesisRecord(6, 'p5', { hello: 'world' }),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handled).toEqual([`product/create p1 ${seq(1)} retail-consumer`, `product/purchase p1 ${seq(5)} retail-consumer`]);
    const letters = summary(deadLetters.letters);
    expect(letters.map(({ reason: _, ...rest }) => rest)).toEqual([
      { group: 'retail-consumer', code: 'DECODE_FAILED', partition: SHARD, offset: seq(2) },
      { group: 'retail-consumer', code: 'UNKNOWN_EVENT_TYPE', partition: SHARD, offset: seq(3) },
      { group: 'retail-consumer', code: 'DECODE_FAILED', partition: SHARD, offset: seq(4) },
      { group: 'retail-consumer', code: 'DECODE_FAILED', partition: SHARD, offset: seq(6) },
    ]);
    expect(letters[0]?.reason).toContain('not an envelope: record data is not JSON');
    expect(letters[1]?.reason).toContain('unknown event type "product/return"');
    expect(letters[2]?.reason).toContain('data.name: expected string, got 5');
    expect(letters[3]?.reason).toContain('not a valid envelope');
    expect(deadLetters.letters.find((l) => l.record.position.offset === seq(2))?.record.raw).toBe('{"specversion": "1.0", ');
  });

  it("stops a shard at an event the catalog cannot read yet (onUnreadable: 'stop', the default): dead-lettered and reported failed", async () => {
    const deadLetters = memoryDeadLetters();
    const handled: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters,
      handlers: {
        'product/create': (event) => {
          handled.push(event.subject);
        },
        'product/purchase': (event) => {
          handled.push(event.subject);
        },
      },
    });
    const newer = { ...create('p2'), dataschema: catalog.dataschema('product/create', 9) };
    const response = await handler(
      kinesisEvent(kinesisRecord(1, 'p1', create('p1')), kinesisRecord(2, 'p2', newer), kinesisRecord(3, 'p3', create('p3'))),
      lambdaContext(),
    );
    // p3 is another subject: it may have run, and is reported so that Lambda resumes the shard at p2.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([seq(2), seq(3)]);
    expect(handled).not.toContain('p2');
    expect(summary(deadLetters.letters).map((l) => `${l.code} ${l.offset}`)).toEqual([`UNREADABLE_VERSION ${seq(2)}`]);
  });

  it('dead-letters a record whose data is not UTF-8, naming the byte (issue 9 finding 6)', async () => {
    const deadLetters = memoryDeadLetters();
    const handler = kinesisHandler({ catalog, deadLetters, handlers: { 'product/create': () => {}, 'product/purchase': () => {} } });
    const bytes = Buffer.concat([Buffer.from(JSON.stringify(create('p1')).slice(0, 40)), Buffer.from([0xc3, 0x28])]);
    const record = kinesisRecord(1, 'p1', create('p1'));
    record.kinesis.data = bytes.toString('base64');
    const response = await handler(kinesisEvent(record), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    expect(deadLetters.letters).toHaveLength(1);
    expect(deadLetters.letters[0]?.code).toBe('DECODE_FAILED');
    expect(deadLetters.letters[0]?.reason).toMatch(/UTF-8/);
  });

  it('refuses deadLetter (the old name) with INVALID_OPTION suggesting deadLetters', () => {
    expect(() => kinesisHandler({ catalog, deadLetter: memoryDeadLetters(), handlers: {} } as never)).toThrow(
      /unknown option "deadLetter"; did you mean "deadLetters"/,
    );
  });

  it('reports the first failed record and every later one; later records of the failed subject are never run', async () => {
    const attempts: string[] = [];
    const errors: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      retry: { attempts: 3, initialMs: 1, maxMs: 2 },
      hooks: { onError: (error, { stage }) => errors.push(`${stage}: ${(error as Error).message}`) },
      handlers: {
        'product/create': (event, context) => {
          attempts.push(`${event.subject}@${context.position.offset.slice(-1)}#${context.attempt}`);
          if (event.subject === 'b') throw new Error('stock service down');
        },
        'product/purchase': ignore,
      },
    });
    const response = await handler(
      kinesisEvent(
        kinesisRecord(1, 'a', create('a')),
        kinesisRecord(2, 'b', create('b')),
        kinesisRecord(3, 'a', create('a')),
        kinesisRecord(4, 'b', create('b')),
        kinesisRecord(5, 'c', create('c')),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [2, 3, 4, 5].map((n) => ({ itemIdentifier: seq(n) })) });
    expect(attempts.filter((a) => a.startsWith('b'))).toEqual(['b@2#1', 'b@2#2', 'b@2#3']);
    expect(attempts).toContain('a@1#1');
    expect(errors).toEqual(['handler: stock service down']);
  });

  it('starts no record of the stream after a known failure, since it will be redelivered anyway', async () => {
    const attempted: string[] = [];
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      concurrency: 1,
      retry: { attempts: 1 },
      handlers: {
        'product/create': (event) => {
          attempted.push(event.subject);
          if (event.subject === 'a') throw new Error('down');
        },
        'product/purchase': ignore,
      },
    });
    const response = await handler(kinesisEvent(kinesisRecord(1, 'a', create('a')), kinesisRecord(2, 'b', create('b'))), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(1) }, { itemIdentifier: seq(2) }] });
    expect(attempted).toEqual(['a']);
  });

  it('counts a record as failed when the dead-letter sink fails', async () => {
    const failingSink: DeadLetterSink = {
      send: () => Promise.reject(new Error('queue unavailable')),
    };
    const handler = kinesisHandler({
      catalog,
      deadLetters: failingSink,
      handlers: { 'product/create': () => {}, 'product/purchase': () => {} },
    });
    const response = await handler(
      kinesisEvent(kinesisRecord(1, 'a', create('a')), kinesisRecord(2, 'b', 'garbage'), kinesisRecord(3, 'c', create('c'))),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }, { itemIdentifier: seq(3) }] });
  });

  it('runs one subject at a time and in order, different subjects in parallel', async () => {
    const inFlight = new Map<string, number>();
    const overlaps: string[] = [];
    const order: string[] = [];
    let yStarted!: () => void;
    const yHasStarted = new Promise<void>((resolve) => {
      yStarted = resolve;
    });
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      handlers: {
        'product/create': async (event) => {
          const subject = event.subject;
          inFlight.set(subject, (inFlight.get(subject) ?? 0) + 1);
          if ((inFlight.get(subject) ?? 0) > 1) overlaps.push(subject);
          // x's first event waits for y to start: this only finishes if subjects run in parallel.
          if (subject === 'y') yStarted();
          if (event.data.name === 'x1') await yHasStarted;
          await new Promise((resolve) => setImmediate(resolve));
          order.push(event.data.name);
          inFlight.set(subject, (inFlight.get(subject) ?? 0) - 1);
        },
        'product/purchase': ignore,
      },
    });
    const records = ['x1', 'y1', 'x2', 'y2', 'x3', 'y3'].map((name, i) =>
      kinesisRecord(i + 1, name.slice(0, 1), create(name.slice(0, 1), name)),
    );
    const response = await handler(kinesisEvent(...records), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(overlaps).toEqual([]);
    expect(order.filter((name) => name.startsWith('x'))).toEqual(['x1', 'x2', 'x3']);
    expect(order.filter((name) => name.startsWith('y'))).toEqual(['y1', 'y2', 'y3']);
  });

  it('gives up before the invocation times out and reports what is left', async () => {
    const handler = kinesisHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      deadlineMarginMs: 1000,
      handlers: {
        // Waits for its signal: aborted 1000 ms before the deadline, 100 ms from now.
        'product/create': (_event, { signal }) =>
          new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
        'product/purchase': () => {},
      },
    });
    const started = performance.now();
    const response = await handler(
      kinesisEvent(kinesisRecord(1, 'a', purchase('a')), kinesisRecord(2, 'a', create('a'))),
      lambdaContext(1100),
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(2) }] });
  });
});

// ---------- Kafka (MSK and self-managed) ----------

function kafkaRecord(
  topic: string,
  partition: number,
  offset: number,
  value: string | null,
  options: { key?: string; headers?: Record<string, string> } = {},
): MSKRecord {
  const record = {
    topic,
    partition,
    offset,
    timestamp: 1_714_557_600_000,
    timestampType: 'CREATE_TIME' as const,
    value: value === null ? null : Buffer.from(value).toString('base64'),
    headers: Object.entries(options.headers ?? {}).map(([name, text]) => ({ [name]: [...Buffer.from(text)] })),
    ...(options.key === undefined ? {} : { key: Buffer.from(options.key).toString('base64') }),
  };
  return record as MSKRecord;
}

const structured = (topic: string, partition: number, offset: number, event: unknown) =>
  kafkaRecord(topic, partition, offset, JSON.stringify(event), {
    key: (event as Envelope).subject,
    headers: { 'content-type': 'application/cloudevents+json; charset=UTF-8' },
  });

function binary(topic: string, partition: number, offset: number, event: Envelope) {
  return kafkaRecord(topic, partition, offset, JSON.stringify(event.data), {
    key: event.subject,
    headers: {
      ce_specversion: event.specversion,
      ce_id: event.id,
      ce_type: event.type,
      ce_source: event.source,
      ce_time: event.time,
      ce_dataschema: event.dataschema,
      'content-type': 'application/json',
    },
  });
}

function mskEvent(...records: MSKRecord[]): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`;
    grouped[key] ??= [];
    grouped[key].push(record);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/retail/abc',
    bootstrapServers: 'b-1.retail:9092',
    records: grouped,
  };
}

describe('kafkaHandler', () => {
  it('reads structured and binary CloudEvents, dead-letters poison records and moves on', async () => {
    const deadLetters = memoryDeadLetters();
    const handled: Envelope[] = [];
    const handler = kafkaHandler({
      catalog,
      deadLetters,
      onUnreadable: 'dead-letter',
      group: 'photo-assignment',
      handlers: {
        'product/create': (event) => {
          handled.push(event);
        },
        'product/purchase': (event) => {
          handled.push(event);
        },
      },
    });
    const viaStructured = create('p1', 'Boot');
    const viaBinary = purchase('p1');
    const other = create('p2');
    const response = await handler(
      mskEvent(
        structured('retail', 0, 10, viaStructured),
        binary('retail', 0, 11, viaBinary),
        kafkaRecord('retail', 0, 12, 'not json', { key: 'p3' }),
        structured('retail', 0, 13, unknownType('p4')),
        structured('retail', 0, 14, schemaInvalid('p5')),
        kafkaRecord('retail', 0, 15, null, { key: 'p6' }),
        structured('retail', 1, 3, other),
      ),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(handled.filter((e) => e.subject === 'p1')).toEqual([viaStructured, { ...viaBinary, datacontenttype: 'application/json' }]);
    expect(handled.filter((e) => e.subject === 'p2')).toEqual([other]);
    expect(summary(deadLetters.letters).map(({ reason: _, ...rest }) => rest)).toEqual([
      { group: 'photo-assignment', code: 'DECODE_FAILED', partition: 'retail-0', offset: '12' },
      { group: 'photo-assignment', code: 'UNKNOWN_EVENT_TYPE', partition: 'retail-0', offset: '13' },
      { group: 'photo-assignment', code: 'DECODE_FAILED', partition: 'retail-0', offset: '14' },
      { group: 'photo-assignment', code: 'DECODE_FAILED', partition: 'retail-0', offset: '15' },
    ]);
    const reasons = summary(deadLetters.letters).map((l) => l.reason);
    expect(reasons[0]).toContain('record value is not JSON');
    expect(reasons[2]).toContain('data.name: expected string, got 5');
    expect(reasons[3]).toContain('record has no value');
  });

  it('reports the failed record and the rest of its topic-partition only', async () => {
    const handler = kafkaHandler({
      catalog,
      deadLetters: memoryDeadLetters(),
      retry: { attempts: 2, initialMs: 1, maxMs: 1 },
      handlers: {
        'product/create': (event) => {
          if (event.subject === 'a') throw new Error('boom');
        },
        'product/purchase': () => {},
      },
    });
    const event: SelfManagedKafkaEvent = {
      ...mskEvent(
        structured('retail', 0, 19, purchase('z')),
        structured('retail', 0, 20, create('a')),
        structured('retail', 0, 21, purchase('a')),
        structured('retail', 0, 22, create('b')),
        structured('retail', 1, 7, create('c')),
        structured('orders', 0, 20, create('d')),
      ),
      eventSource: 'SelfManagedKafka',
    };
    const response = await handler(event, lambdaContext());
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'retail-0', offset: 20 } },
        { itemIdentifier: { partition: 'retail-0', offset: 21 } },
        { itemIdentifier: { partition: 'retail-0', offset: 22 } },
      ],
    });
  });
});
