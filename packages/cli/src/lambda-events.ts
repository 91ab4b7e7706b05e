import { randomUUID } from 'node:crypto';
import type { LogRecord } from '@riverlog/core';

// The event shapes an event source mapping hands a Lambda function, made from
// log records: Kinesis Data Streams, and Amazon MSK (self-managed Kafka's is the same but for eventSource).

const ACCOUNT = '123456789012';

/** The raw bytes of a record as a producer wrote them: the envelope's JSON, or the text of a record that is not one. */
function bytesOf(record: LogRecord): Buffer {
  return Buffer.from(record.event !== undefined ? JSON.stringify(record.event) : (record.raw ?? ''), 'utf8');
}

function subjectOf(record: LogRecord): string | undefined {
  const subject = (record.event as { subject?: unknown } | undefined)?.subject;
  return typeof subject === 'string' ? subject : undefined;
}

/** A partition as a Kinesis shard id: `shardId-000000000003` for partition 3 (a Kinesis log's own shard ids stay). */
export function shardIdOf(partition: string): string {
  return /^\d+$/.test(partition) ? `shardId-${partition.padStart(12, '0')}` : partition;
}

export interface EventSource {
  readonly region: string;
  /** The stream (Kinesis) or topic (MSK) name. */
  readonly name: string;
}

/**
 * A Kinesis stream event of these records (one shard). The sequence number is
 * the record's offset in the log, which orders records within a partition as
 * Kinesis sequence numbers do within a shard.
 */
export function kinesisEvent(records: readonly LogRecord[], source: EventSource) {
  return {
    Records: records.map((record) => {
      const shard = shardIdOf(record.position.partition);
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: subjectOf(record) ?? shard,
          sequenceNumber: record.position.offset,
          data: bytesOf(record).toString('base64'),
          approximateArrivalTimestamp: (record.storedAt ?? Date.now()) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shard}:${record.position.offset}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/riverlog-lambda`,
        awsRegion: source.region,
        eventSourceARN: `arn:aws:kinesis:${source.region}:${ACCOUNT}:stream/${source.name}`,
      };
    }),
  };
}

/** An MSK event of these records (one topic-partition), keyed `<topic>-<partition>` as Lambda keys them. */
export function mskEvent(records: readonly LogRecord[], source: EventSource) {
  const byPartition: Record<string, unknown[]> = {};
  for (const record of records) {
    const key = `${source.name}-${record.position.partition}`;
    const subject = subjectOf(record);
    byPartition[key] ??= [];
    byPartition[key].push({
      topic: source.name,
      partition: Number(record.position.partition),
      offset: Number(record.position.offset),
      timestamp: record.storedAt ?? Date.now(),
      timestampType: 'CREATE_TIME',
      key: subject === undefined ? null : Buffer.from(subject, 'utf8').toString('base64'),
      value: bytesOf(record).toString('base64'),
      headers: [],
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: `arn:aws:kafka:${source.region}:${ACCOUNT}:cluster/riverlog-local/00000000-0000-0000-0000-000000000000-1`,
    bootstrapServers: 'b-1.riverlog-local.kafka.amazonaws.com:9092',
    records: byPartition,
  };
}

/** A Lambda context for one invocation: remaining time counts down from `timeoutMs`. */
export function lambdaContext(functionName: string, region: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `riverlog-local/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
