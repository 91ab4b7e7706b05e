// How an envelope travels as a Kinesis record, and what that costs in bytes.

import { createHash } from 'node:crypto';
import type { LogRecord } from '@riverlog/core';
import { decodeKinesisData, decodeUtf8 } from '@riverlog/core/backend';
import type { KinesisRecord } from './shard-reader.js';

/** Kinesis's longest partition key, in characters. */
export const MAX_PARTITION_KEY_CHARS = 256;

/**
 * Subjects up to this many bytes always fit beside an envelope of
 * `maxEventBytes` (Kinesis counts the partition key against the record's
 * limit); the Kafka log allows the same, so events stay portable.
 */
export const SUBJECT_ALLOWANCE = 256;

/** A stream's maximum record size when it does not say (MaxRecordSizeInKiB absent): 1 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** The most records and bytes (data and partition keys) one PutRecords call takes. */
export const PUT_RECORDS_MAX_RECORDS = 500;
export const PUT_RECORDS_MAX_BYTES = 10 * 1024 * 1024;

/**
 * The partition key of a subject: the subject itself, or, for a subject
 * longer than Kinesis allows, a digest of it (still one key per subject,
 * so one shard at a time and its order kept).
 */
export function partitionKeyOf(subject: string): string {
  if (subject.length <= MAX_PARTITION_KEY_CHARS) return subject;
  return `sha256:${createHash('sha256').update(subject).digest('hex')}`;
}

/** The largest envelope to advertise for a stream whose records may be `maxRecordBytes` (data and key). */
export function maxEventBytesFor(maxRecordBytes: number): number {
  return maxRecordBytes - SUBJECT_ALLOWANCE;
}

/** The size to compare with `maxEventBytes`: the envelope's bytes, plus the key's bytes beyond the allowance. */
export function chargedBytes(envelopeBytes: number, keyBytes: number): number {
  return envelopeBytes + Math.max(0, keyBytes - SUBJECT_ALLOWANCE);
}

/** A sub-record's offset: `<sequence number>.<index>`. */
export function subOffset(sequenceNumber: string, index: number): string {
  return `${sequenceNumber}.${index}`;
}

/** A Kinesis sequence number: long digit strings (56 digits on AWS and both emulators). */
const SEQUENCE = /^[1-9]\d{19,}$/;

/**
 * Splits an offset into its sequence number and, for a sub-record of an
 * aggregate, its index; undefined when it is neither form (a sub-record's
 * sequence number must look like one, at least 20 digits, so that '1.5'
 * stays refused as an offset).
 */
export function parseOffset(offset: string): { readonly sequenceNumber: string; readonly index: number | undefined } | undefined {
  const dot = offset.indexOf('.');
  if (dot < 0) return /^(?:0|[1-9]\d*)$/.test(offset) ? { sequenceNumber: offset, index: undefined } : undefined;
  const sequenceNumber = offset.slice(0, dot);
  const index = offset.slice(dot + 1);
  if (!SEQUENCE.test(sequenceNumber) || !/^(?:0|[1-9]\d{0,8})$/.test(index)) return undefined;
  return { sequenceNumber, index: Number(index) };
}

/** Whether `offset` is a sub-record offset as `parseOffset` accepts it. */
export function isSubOffset(offset: string): boolean {
  return offset.includes('.') && parseOffset(offset) !== undefined;
}

/** What is known of a stored record's bytes: the envelope, or why it is not one. */
function parsed(data: Uint8Array, what: string): Pick<LogRecord, 'event' | 'raw' | 'error'> {
  let text: string;
  try {
    text = decodeUtf8(data, what);
  } catch (error) {
    return {
      event: undefined,
      raw: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
      error: (error as Error).message,
    };
  }
  if (text === '') return { event: undefined, raw: '', error: `${what} is empty` };
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (error) {
    return { event: undefined, raw: text, error: `${what} is not JSON: ${(error as Error).message}` };
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return { event: undefined, raw: text, error: `${what} is JSON but not an object, so not a CloudEvents envelope` };
  }
  return { event };
}

/**
 * An envelope over `maxEventBytes` (charged as on append) is refused on
 * reading too: a raw producer can write up to Kinesis's record limit, and
 * an event this log would never have accepted must not pass as a good one.
 */
function oversize(
  data: Uint8Array,
  key: string,
  what: string,
  maxEventBytes: number,
): Pick<LogRecord, 'event' | 'raw' | 'error'> | undefined {
  const charged = chargedBytes(data.byteLength, Buffer.byteLength(key, 'utf8'));
  if (charged <= maxEventBytes) return undefined;
  return {
    event: undefined,
    raw: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
    error:
      `${what} is ${charged} bytes (data and the partition key beyond ${SUBJECT_ALLOWANCE} bytes), over this log's ` +
      `maxEventBytes (${maxEventBytes}): riverlog never appends such an event; fix the producer that wrote it ` +
      "or raise maxEventBytes (up to the stream's record size less 256 bytes)",
  };
}

/**
 * The log records one Kinesis record holds: one for a plain record (offset
 * = its sequence number), or one per user record of a KPL aggregate (offset
 * `<sequence number>.<index>`), skipping indexes below `fromIndex`. A
 * record that is not an envelope, or is larger than `maxEventBytes`, is a
 * record with `error` (consumers dead-letter it).
 */
export function logRecordsOf(shardId: string, record: KinesisRecord, maxEventBytes: number, fromIndex = 0): LogRecord[] {
  const sequenceNumber = record.SequenceNumber as string;
  const storedAt = record.ApproximateArrivalTimestamp?.getTime();
  const data = record.Data ?? new Uint8Array(0);
  const parts = decodeKinesisData(data);
  const records: LogRecord[] = [];
  for (let index = fromIndex; index < parts.length; index++) {
    const part = parts[index] as { partitionKey?: string; data: Uint8Array };
    const inAggregate = part.partitionKey !== undefined;
    const offset = inAggregate ? subOffset(sequenceNumber, index) : sequenceNumber;
    const what = inAggregate ? `record ${index} of the aggregate at ${sequenceNumber}` : `Kinesis record ${sequenceNumber}`;
    const key = part.partitionKey ?? record.PartitionKey ?? '';
    const stored = oversize(part.data, key, what, maxEventBytes) ?? parsed(part.data, what);
    const position = { partition: shardId, offset };
    records.push(
      stored.error === undefined
        ? { position, event: stored.event, storedAt }
        : { position, event: undefined, raw: stored.raw, error: stored.error, storedAt },
    );
  }
  return records;
}
