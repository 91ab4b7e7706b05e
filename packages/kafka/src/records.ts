import type { LogRecord } from '@riverlog/core';
import { envelopeFromKafkaRecord } from '@riverlog/core/backend';
import type { KafkaIncomingMessage } from './client.js';

/**
 * A fetched Kafka message as a `LogRecord`, through core's one Kafka record
 * reader: the envelope (structured or binary mode), or the raw text and why
 * it is not one (invalid UTF-8 included); `storedAt` is the record's Kafka
 * timestamp. `partition` is the partition id as text, made once per batch.
 */
export function toLogRecord(partition: string, message: KafkaIncomingMessage): LogRecord {
  const position = { partition, offset: message.offset };
  const stored = envelopeFromKafkaRecord(message);
  // One shape for every envelope read (a spread builds the record slowly, once per record).
  if (stored.error === undefined) return { position, event: stored.event, storedAt: stored.storedAt };
  return { position, event: undefined, raw: stored.raw, error: stored.error, storedAt: stored.storedAt };
}

/** Whether a record passes a `types` filter; records that are not envelopes never do. */
export function matchesTypes(record: LogRecord, types: ReadonlySet<string> | undefined): boolean {
  if (!types) return true;
  const type = (record.event as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && types.has(type);
}

/**
 * The records of a fetched batch from offset `next` on, and before `end` when given, that pass `types`.
 * `last` is the offset of the last message taken, undefined when the batch held none in that range.
 */
export function recordsFrom(
  partition: number,
  messages: readonly KafkaIncomingMessage[],
  next: bigint,
  end: bigint | undefined,
  types: ReadonlySet<string> | undefined,
): { readonly records: LogRecord[]; readonly last: bigint | undefined } {
  const offsetAt = (i: number) => BigInt((messages[i] as KafkaIncomingMessage).offset);
  // Usually the whole batch is in range: offsets are compared only at its ends.
  let from = 0;
  if (messages.length > 0 && offsetAt(0) < next) while (from < messages.length && offsetAt(from) < next) from++;
  let to = messages.length;
  if (end !== undefined) while (to > from && offsetAt(to - 1) >= end) to--;
  const id = String(partition);
  const records: LogRecord[] = [];
  for (let i = from; i < to; i++) {
    const record = toLogRecord(id, messages[i] as KafkaIncomingMessage);
    if (matchesTypes(record, types)) records.push(record);
  }
  return { records, last: to > from ? offsetAt(to - 1) : undefined };
}

/**
 * Cuts `records` into batches of at most `size`, each with the offset the
 * reader stands at after it: the next record's offset, and `after` (the
 * offset after the last message taken, filtered ones included) for the last.
 */
export function* slices(records: readonly LogRecord[], size: number, after: bigint): Generator<[LogRecord[], bigint]> {
  for (let i = 0; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    const following = records[i + size];
    yield [slice, following === undefined ? after : BigInt(following.position.offset)];
  }
}
