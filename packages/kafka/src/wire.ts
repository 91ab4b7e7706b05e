// How an envelope travels as a Kafka record, and what that costs in bytes.

import type { Envelope } from '@riverlog/core';
import { STRUCTURED_CONTENT_TYPE } from '@riverlog/core/backend';

/**
 * CloudEvents' Kafka protocol binding, structured content mode: the value is
 * the whole event as JSON and this header names the event format (as core's
 * `envelopeToKafkaRecord` writes it; the appender keeps the JSON it measured).
 */
const CONTENT_TYPE_HEADER = 'content-type';

const HEADERS = { [CONTENT_TYPE_HEADER]: STRUCTURED_CONTENT_TYPE };

/** The record a Kafka message carries for `event`: key = subject, value = the envelope as JSON (`text`). */
export function toKafkaMessage(
  event: Envelope,
  text: string,
  partition: number,
): { key: string; value: string; partition: number; headers: Record<string, string> } {
  return { key: event.subject, value: text, partition, headers: HEADERS };
}

/** A record batch's header (magic v2), counted once per batch. */
export const BATCH_OVERHEAD = 61;

/**
 * One record's framing at most: length, attributes, timestamp delta, offset
 * delta, key length, value length and header count as varints at their
 * widest, plus the content-type header.
 */
export const RECORD_OVERHEAD =
  5 + 1 + 10 + 5 + 5 + 5 + 5 + (1 + Buffer.byteLength(CONTENT_TYPE_HEADER) + 1 + Buffer.byteLength(STRUCTURED_CONTENT_TYPE));

/**
 * Subjects up to this many bytes always fit beside an envelope of
 * `maxEventBytes` (the key repeats the subject). It is also Kinesis's
 * partition-key limit, so events stay portable between the logs.
 */
export const SUBJECT_ALLOWANCE = 256;

/** Kafka's default `max.message.bytes` / `message.max.bytes`. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** The largest envelope to advertise for a topic whose record batches may be `maxMessageBytes`. */
export function maxEventBytesFor(maxMessageBytes: number): number {
  return maxMessageBytes - BATCH_OVERHEAD - RECORD_OVERHEAD - SUBJECT_ALLOWANCE;
}

/**
 * The size to compare with `maxEventBytes`: the envelope's bytes, plus the
 * part of the key beyond the subject allowance.
 */
export function chargedBytes(envelopeSize: number, subjectSize: number): number {
  return envelopeSize + Math.max(0, subjectSize - SUBJECT_ALLOWANCE);
}

/** The bytes a record adds to its batch at most. */
export function recordBytes(envelopeSize: number, subjectSize: number): number {
  return envelopeSize + subjectSize + RECORD_OVERHEAD;
}
