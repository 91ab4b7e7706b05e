import { envelopeFromKafkaRecord, type LogRecord } from '@riverlog/core';
import type { KafkaIncomingMessage } from './client.js';

/**
 * A fetched Kafka message as a `LogRecord`: the envelope (structured or
 * binary mode), or the raw text and why it is not one. `partition` is the
 * partition id as text, made once per batch.
 */
export function toLogRecord(partition: string, message: KafkaIncomingMessage): LogRecord {
  const position = { partition, offset: message.offset };
  const stored = envelopeFromKafkaRecord({ key: message.key, value: message.value, headers: message.headers });
  return stored.error === undefined ? { position, event: stored.event } : { position, ...stored };
}

/** Whether a record passes a `types` filter; records that are not envelopes never do. */
export function matchesTypes(record: LogRecord, types: ReadonlySet<string> | undefined): boolean {
  if (!types) return true;
  const type = (record.event as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && types.has(type);
}
