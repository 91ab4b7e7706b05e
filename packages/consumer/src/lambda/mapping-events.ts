import type { LogRecord, StoredEvent } from '@riverlog/core';
import { partitionForSubject, RiverlogError } from '@riverlog/core';
import { envelopeToKafkaRecord } from '@riverlog/core/backend';
import type { Context, KinesisStreamEvent, KinesisStreamRecord, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';

// The events an event source mapping hands a Lambda function, built from envelopes or raw bytes (positions
// made up, for tests) or from records read from a log (positions kept, for `riverlog lambda`). The adapters
// in kinesis.ts and kafka.ts parse these shapes.

/**
 * Bytes that are not an envelope (a poison record), for a Lambda event:
 * `key` is the partition key (Kinesis) or record key (Kafka).
 *
 * @example
 * kinesisEvent([created, { raw: '{"specversion": "1.0", ', key: 'p2' }]);
 */
export interface RawRecord {
  readonly raw: string | Uint8Array;
  readonly key?: string;
}

/**
 * What a Lambda event builder takes: envelopes (e.g. from `createEvent`)
 * or raw bytes, placed by subject at made-up positions; or records read from
 * a log (`LogRecord`), which keep theirs: the offset is the Kinesis sequence
 * number or the Kafka offset.
 */
export type LambdaRecordInput = StoredEvent | RawRecord | LogRecord;

const isEnvelope = (input: LambdaRecordInput): input is StoredEvent => 'specversion' in input;
const isLogRecord = (input: LambdaRecordInput): input is LogRecord => !isEnvelope(input) && 'position' in input;
const bytesOf = (raw: string | Uint8Array) => (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw));
const timeOf = (time: Date | number | undefined) => (time === undefined ? Date.now() : typeof time === 'number' ? time : time.getTime());

/** The subject of a log record's event, if it has one. */
function subjectOf(record: LogRecord): string | undefined {
  const subject = (record.event as { subject?: unknown } | undefined)?.subject;
  return typeof subject === 'string' ? subject : undefined;
}

/** The bytes a producer wrote for a log record: the envelope's JSON, or the text of a record that is not one. */
const logRecordBytes = (record: LogRecord) =>
  Buffer.from(record.event !== undefined ? JSON.stringify(record.event) : (record.raw ?? ''), 'utf8');

/** The partition key (Kinesis) or record key (Kafka) of a made-up record. */
const keyOf = (input: StoredEvent | RawRecord) => (isEnvelope(input) ? input.subject : (input.key ?? 'raw'));

/** A partition as a Kinesis shard id: `shardId-000000000003` for partition 3; a Kinesis log's own shard ids stay. */
const shardIdOf = (partition: string) => (/^\d+$/.test(partition) ? `shardId-${partition.padStart(12, '0')}` : partition);

/** Options of {@link kinesisEvent}. */
export interface KinesisEventOptions {
  /** Default `arn:aws:kinesis:eu-west-1:123456789012:stream/riverlog`; `awsRegion` is its region. */
  readonly streamArn?: string;
  /** Shards made-up records are spread over by partition key (subject). Default 1. */
  readonly shards?: number;
  /** When made-up records arrived (a log record's is its `storedAt`). Default now. */
  readonly arrivedAt?: Date | number;
}

/**
 * A `KinesisStreamEvent` as Lambda delivers it, carrying these envelopes
 * (JSON, base64) or raw bytes: partition key = subject, shards chosen by
 * subject, sequence numbers increasing within each shard and longer than
 * 2^53 (as real ones are, so code that reads them as numbers fails here).
 * A log record keeps its place: shard = its partition (`shardId-00000000000n`
 * for a partition `n`), sequence number = its offset.
 * The record at index i carries `inputs[i]`.
 *
 * @example
 * const handler = kinesisHandler({ catalog, deadLetters, handlers });
 * const event = kinesisEvent([created, purchased]);
 * const response = await handler(event, lambdaContext());
 * expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1].kinesis.sequenceNumber }]);
 */
export function kinesisEvent(inputs: readonly LambdaRecordInput[], options: KinesisEventOptions = {}): KinesisStreamEvent {
  const streamArn = options.streamArn ?? 'arn:aws:kinesis:eu-west-1:123456789012:stream/riverlog';
  const region = streamArn.split(':')[3] || 'eu-west-1';
  const account = streamArn.split(':')[4] || '123456789012';
  const shards = options.shards ?? 1;
  const arrival = timeOf(options.arrivedAt) / 1000;
  const next = new Map<number, number>();
  const place = (input: StoredEvent | RawRecord) => {
    const partitionKey = keyOf(input);
    const shard = partitionForSubject(partitionKey, shards);
    const n = (next.get(shard) ?? 0) + 1;
    next.set(shard, n);
    return {
      shardId: `shardId-${String(shard).padStart(12, '0')}`,
      sequenceNumber: `49590338271490256608559692538361571095921575989${String(shard).padStart(3, '0')}${String(n).padStart(6, '0')}`,
      partitionKey,
      data: isEnvelope(input) ? Buffer.from(JSON.stringify(input), 'utf8') : bytesOf(input.raw),
      arrival,
    };
  };
  const placed = (record: LogRecord) => {
    const shardId = shardIdOf(record.position.partition);
    return {
      shardId,
      sequenceNumber: record.position.offset,
      partitionKey: subjectOf(record) ?? shardId,
      data: logRecordBytes(record),
      arrival: record.storedAt === undefined ? arrival : record.storedAt / 1000,
    };
  };
  return {
    Records: inputs.map((input): KinesisStreamRecord => {
      const { shardId, sequenceNumber, partitionKey, data, arrival } = isLogRecord(input) ? placed(input) : place(input);
      return {
        awsRegion: region,
        eventID: `${shardId}:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        eventSource: 'aws:kinesis',
        eventSourceARN: streamArn,
        eventVersion: '1.0',
        invokeIdentityArn: `arn:aws:iam::${account}:role/riverlog-consumer`,
        kinesis: {
          approximateArrivalTimestamp: arrival,
          data: data.toString('base64'),
          kinesisSchemaVersion: '1.0',
          partitionKey,
          sequenceNumber,
        },
      };
    }),
  };
}

/** Options of {@link mskEvent} and {@link selfManagedKafkaEvent}. */
export interface KafkaEventOptions {
  /** The CloudEvents Kafka binding mode: `structured` (default; what riverlog's Kafka log writes) or `binary` (`ce_*` headers). */
  readonly mode?: 'structured' | 'binary';
  /** Default `riverlog`. */
  readonly topic?: string;
  /** Partitions made-up records are spread over by key (subject). Default 1. */
  readonly partitions?: number;
  /**
   * The log's partition ids (`log.partitions()`), for log records whose
   * partition is not a number (Kinesis shard ids): their Kafka partition is
   * the index of theirs here. A numeric partition id is its own number.
   */
  readonly logPartitions?: readonly string[];
  /** The timestamp of made-up records (a log record's is its `storedAt`). Default now. */
  readonly timestamp?: Date | number;
  /** The first offset of each partition, for made-up records. Default 0. */
  readonly firstOffset?: number;
}

/** Options of {@link mskEvent}. */
export interface MskEventOptions extends KafkaEventOptions {
  /** Default `arn:aws:kafka:eu-west-1:123456789012:cluster/riverlog/…`. */
  readonly clusterArn?: string;
}

/** The Kafka partition number of a log record's partition: its own number, or its index in the log's partitions. */
function partitionNumber(partition: string, logPartitions: readonly string[] | undefined): number {
  if (/^\d+$/.test(partition)) return Number(partition);
  const index = logPartitions?.indexOf(partition) ?? -1;
  if (index < 0) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `Kafka event: partition ${JSON.stringify(partition)} is not a number and not in options.logPartitions (${logPartitions === undefined ? 'not given' : JSON.stringify(logPartitions)}); pass the log's partition ids (log.partitions()) to number it.`,
    );
  }
  return index;
}

/** A key and value as Lambda's Kafka records carry them: the envelope's Kafka record in `mode`, or raw bytes. */
function kafkaBytes(input: StoredEvent | RawRecord, mode: 'structured' | 'binary') {
  if (!isEnvelope(input)) return { value: bytesOf(input.raw), headers: {} };
  const record = envelopeToKafkaRecord(input as Parameters<typeof envelopeToKafkaRecord>[0], mode);
  return { value: Buffer.from(record.value, 'utf8'), headers: record.headers };
}

/** Lambda's Kafka records, keyed `<topic>-<partition>`, with base64 keys and values and headers as byte arrays. */
function kafkaRecords(inputs: readonly LambdaRecordInput[], options: KafkaEventOptions): Record<string, MSKRecord[]> {
  const topic = options.topic ?? 'riverlog';
  const partitions = options.partitions ?? 1;
  const mode = options.mode ?? 'structured';
  const timestamp = timeOf(options.timestamp);
  const next = new Map<number, number>();
  const records: Record<string, MSKRecord[]> = {};
  for (const input of inputs) {
    let partition: number;
    let offset: number;
    let key: string | undefined;
    let time = timestamp;
    let bytes: { value: Buffer; headers: Readonly<Record<string, string>> };
    if (isLogRecord(input)) {
      partition = partitionNumber(input.position.partition, options.logPartitions);
      offset = Number(input.position.offset);
      key = subjectOf(input);
      time = input.storedAt ?? timestamp;
      const event = input.event as LambdaRecordInput | undefined;
      bytes = event !== undefined && isEnvelope(event) ? kafkaBytes(event, mode) : { value: logRecordBytes(input), headers: {} };
    } else {
      key = keyOf(input);
      partition = partitionForSubject(key, partitions);
      offset = next.get(partition) ?? options.firstOffset ?? 0;
      next.set(partition, offset + 1);
      bytes = kafkaBytes(input, mode);
    }
    const name = `${topic}-${partition}`;
    records[name] ??= [];
    // A keyless record (a log record that is not an envelope) comes without `key`, as Lambda sends one.
    records[name].push({
      topic,
      partition,
      offset,
      timestamp: time,
      timestampType: 'CREATE_TIME',
      ...(key === undefined ? {} : { key: Buffer.from(key, 'utf8').toString('base64') }),
      value: bytes.value.toString('base64'),
      headers: Object.entries(bytes.headers).map(([name, text]) => ({ [name]: [...Buffer.from(text, 'utf8')] })),
    } as MSKRecord);
  }
  return records;
}

/**
 * An Amazon MSK event as Lambda delivers it, carrying these envelopes in
 * structured mode (the value is the envelope as JSON) or binary mode (each
 * attribute a `ce_<name>` header, the value the data), or raw bytes: key =
 * subject, partitions chosen by subject, offsets increasing per partition.
 * A log record keeps its place: partition = its partition's number (see
 * `logPartitions`), offset = its offset.
 *
 * @example
 * const handler = kafkaHandler({ catalog, deadLetters, handlers });
 * const response = await handler(mskEvent([created, purchased], { mode: 'binary' }), lambdaContext());
 * expect(response.batchItemFailures).toEqual([]);
 */
export function mskEvent(inputs: readonly LambdaRecordInput[], options: MskEventOptions = {}): MSKEvent {
  const clusterArn = options.clusterArn ?? 'arn:aws:kafka:eu-west-1:123456789012:cluster/riverlog/0a1b2c3d-4e5f-6789-abcd-ef0123456789-1';
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: clusterArn,
    bootstrapServers: 'b-1.riverlog.kafka.eu-west-1.amazonaws.com:9092,b-2.riverlog.kafka.eu-west-1.amazonaws.com:9092',
    records: kafkaRecords(inputs, options),
  };
}

/** Options of {@link selfManagedKafkaEvent}. */
export interface SelfManagedKafkaEventOptions extends KafkaEventOptions {
  /** Default `kafka-1.example.internal:9092`. */
  readonly bootstrapServers?: string;
}

/**
 * A self-managed Kafka event as Lambda delivers it: the records of
 * {@link mskEvent}, from a cluster of your own.
 *
 * @example
 * const response = await handler(selfManagedKafkaEvent([created], { topic: 'retail' }), lambdaContext());
 */
export function selfManagedKafkaEvent(
  inputs: readonly LambdaRecordInput[],
  options: SelfManagedKafkaEventOptions = {},
): SelfManagedKafkaEvent {
  return {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: options.bootstrapServers ?? 'kafka-1.example.internal:9092',
    records: kafkaRecords(inputs, options),
  };
}

/** Options of {@link lambdaContext}. */
export interface LambdaContextOptions {
  /** Default `riverlog-consumer` (the adapters' default dead-letter group). */
  readonly functionName?: string;
  /** The region of `invokedFunctionArn`. Default `eu-west-1`. */
  readonly region?: string;
  /** Time left in the invocation, counted from this call. Default 60,000 ms. */
  readonly remainingMs?: number;
}

/**
 * A Lambda `Context` for one invocation (a new `awsRequestId` each call):
 * its time left runs down from `remainingMs` (the adapters stop starting
 * records near the end).
 *
 * @example
 * await handler(kinesisEvent([created]), lambdaContext({ remainingMs: 5_000 }));
 */
export function lambdaContext(options: LambdaContextOptions = {}): Context {
  const functionName = options.functionName ?? 'riverlog-consumer';
  const region = options.region ?? 'eu-west-1';
  const deadline = Date.now() + (options.remainingMs ?? 60_000);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: globalThis.crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]00000000000000000000000000000000',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
