import { envelopeFromKafkaRecord, type LogRecord, RiverlogError } from '@riverlog/core';
import type { KafkaHeaders, KafkaIncomingMessage } from './client.js';

/** Binary-mode records carry their attributes as `ce_*` headers; structured ones need no header read at all. */
function hasAttributeHeaders(headers: KafkaHeaders | undefined): boolean {
  if (!headers) return false;
  for (const name in headers) {
    // 'ce_' in any case, without allocating: c/C, e/E, _.
    if (name.length > 3 && (name.charCodeAt(0) | 0x20) === 0x63 && (name.charCodeAt(1) | 0x20) === 0x65 && name.charCodeAt(2) === 0x5f) {
      return true;
    }
  }
  return false;
}

/**
 * A fetched Kafka message as a `LogRecord`: the envelope (structured or
 * binary mode), or the raw text and why it is not one. `partition` is the
 * partition id as text, made once per batch.
 */
export function toLogRecord(partition: string, message: KafkaIncomingMessage): LogRecord {
  const position = { partition, offset: message.offset };
  const value = message.value === null ? null : message.value.toString('utf8');
  const binary = hasAttributeHeaders(message.headers);
  if (value !== null && !binary) {
    // The common case, structured mode: the value is the envelope. Anything else takes the careful path below.
    try {
      const event: unknown = JSON.parse(value);
      if (typeof event === 'object' && event !== null && !Array.isArray(event)) return { position, event };
    } catch {
      // Described by envelopeFromKafkaRecord.
    }
  }
  const stored = envelopeFromKafkaRecord({ key: message.key, value, ...(binary ? { headers: message.headers } : {}) });
  return { position, ...stored };
}

/** Whether a record passes a `types` filter; records that are not envelopes never do. */
export function matchesTypes(record: LogRecord, types: ReadonlySet<string> | undefined): boolean {
  if (!types) return true;
  const type = (record.event as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && types.has(type);
}

/** Parses a `partitions` option entry: a decimal partition id of the topic. */
export function partitionNumber(id: string, known: readonly number[], uri: string): number {
  const partition = /^\d+$/.test(id) ? Number(id) : Number.NaN;
  if (!known.includes(partition)) {
    throw new RiverlogError('UNKNOWN_PARTITION', `Kafka log ${uri} has no partition ${JSON.stringify(id)}; it has ${known.join(', ')}.`);
  }
  return partition;
}
