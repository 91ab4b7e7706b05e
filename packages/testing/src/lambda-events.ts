import type { StoredEvent } from '@riverlog/core';
import { partitionForSubject } from '@riverlog/core';
import { envelopeToKafkaRecord } from '@riverlog/core/backend';
import type { Context, KinesisStreamEvent, KinesisStreamRecord, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';

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

/** What a Lambda event builder takes: envelopes (e.g. from `catalog.create`), or raw bytes. */
export type LambdaRecordInput = StoredEvent | RawRecord;

const isRaw = (input: LambdaRecordInput): input is RawRecord => 'raw' in input && !('specversion' in input);
const bytesOf = (raw: string | Uint8Array) => (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw));
const keyOf = (input: LambdaRecordInput) => (isRaw(input) ? (input.key ?? 'raw') : input.subject);
const timeOf = (time: Date | number | undefined) => (time === undefined ? Date.now() : typeof time === 'number' ? time : time.getTime());

/** Options of {@link kinesisEvent}. */
export interface KinesisEventOptions {
  /** Default `arn:aws:kinesis:eu-west-1:123456789012:stream/riverlog`. */
  readonly streamArn?: string;
  /** Shards the records are spread over by partition key (subject). Default 1. */
  readonly shards?: number;
  /** When the records arrived. Default now. */
  readonly arrivedAt?: Date | number;
}

/**
 * A `KinesisStreamEvent` as Lambda delivers it, carrying these envelopes
 * (JSON, base64) or raw bytes: partition key = subject, shards chosen by
 * subject, sequence numbers increasing within each shard and longer than
 * 2^53 (as real ones are, so code that reads them as numbers fails here).
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
  return {
    Records: inputs.map((input): KinesisStreamRecord => {
      const partitionKey = keyOf(input);
      const shard = partitionForSubject(partitionKey, shards);
      const n = (next.get(shard) ?? 0) + 1;
      next.set(shard, n);
      const shardId = `shardId-${String(shard).padStart(12, '0')}`;
      const sequenceNumber = `49590338271490256608559692538361571095921575989${String(shard).padStart(3, '0')}${String(n).padStart(6, '0')}`;
      const data = isRaw(input) ? bytesOf(input.raw) : Buffer.from(JSON.stringify(input), 'utf8');
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
  /** Partitions the records are spread over by key (subject). Default 1. */
  readonly partitions?: number;
  /** The records' timestamp. Default now. */
  readonly timestamp?: Date | number;
  /** The first offset of each partition. Default 0. */
  readonly firstOffset?: number;
}

/** Options of {@link mskEvent}. */
export interface MskEventOptions extends KafkaEventOptions {
  /** Default `arn:aws:kafka:eu-west-1:123456789012:cluster/riverlog/…`. */
  readonly clusterArn?: string;
}

/** Lambda's Kafka records, keyed `<topic>-<partition>`, with base64 keys and values and headers as byte arrays. */
function kafkaRecords(inputs: readonly LambdaRecordInput[], options: KafkaEventOptions): Record<string, MSKRecord[]> {
  const topic = options.topic ?? 'riverlog';
  const partitions = options.partitions ?? 1;
  const timestamp = timeOf(options.timestamp);
  const next = new Map<number, number>();
  const records: Record<string, MSKRecord[]> = {};
  for (const input of inputs) {
    const key = keyOf(input);
    const partition = partitionForSubject(key, partitions);
    const offset = next.get(partition) ?? options.firstOffset ?? 0;
    next.set(partition, offset + 1);
    let value: Buffer;
    let headers: Readonly<Record<string, string>> = {};
    if (isRaw(input)) value = bytesOf(input.raw);
    else {
      const record = envelopeToKafkaRecord(input as Parameters<typeof envelopeToKafkaRecord>[0], options.mode ?? 'structured');
      value = Buffer.from(record.value, 'utf8');
      headers = record.headers;
    }
    const name = `${topic}-${partition}`;
    records[name] ??= [];
    records[name].push({
      topic,
      partition,
      offset,
      timestamp,
      timestampType: 'CREATE_TIME',
      key: Buffer.from(key, 'utf8').toString('base64'),
      value: value.toString('base64'),
      headers: Object.entries(headers).map(([name, text]) => ({ [name]: [...Buffer.from(text, 'utf8')] })),
    });
  }
  return records;
}

/**
 * An Amazon MSK event as Lambda delivers it, carrying these envelopes in
 * structured mode (the value is the envelope as JSON) or binary mode (each
 * attribute a `ce_<name>` header, the value the data), or raw bytes: key =
 * subject, partitions chosen by subject, offsets increasing per partition.
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
  /** Time left in the invocation, counted from this call. Default 60,000 ms. */
  readonly remainingMs?: number;
}

/**
 * A Lambda `Context` for calling a handler in a test: its time left runs
 * down from `remainingMs` (the adapters stop starting records near the end).
 *
 * @example
 * await handler(kinesisEvent([created]), lambdaContext({ remainingMs: 5_000 }));
 */
export function lambdaContext(options: LambdaContextOptions = {}): Context {
  const functionName = options.functionName ?? 'riverlog-consumer';
  const deadline = Date.now() + (options.remainingMs ?? 60_000);
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c0ffee00-0000-4000-8000-000000000001',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]00000000000000000000000000000000',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
