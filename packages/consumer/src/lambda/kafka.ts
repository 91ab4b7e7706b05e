import type { Catalog } from '@riverlog/core';
import { envelopeFromKafkaRecord } from '@riverlog/core/backend';
import type { Context, MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import { type BatchItem, batchRunner, type LambdaHandlerOptions } from './batch.js';

/**
 * How a Kafka event source names a failed record in a partial batch
 * response: the topic-partition (`<topic>-<partition>`, as the event's
 * `records` are keyed) and the offset. Lambda resumes that topic-partition
 * from the lowest reported offset.
 */
export interface KafkaItemIdentifier {
  readonly partition: string;
  readonly offset: number;
}

/** The partial batch response of a Kafka (MSK or self-managed) event source. */
export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: KafkaItemIdentifier }[];
}

/** Lambda delivers headers as a list of one-entry objects of byte arrays. */
function headersOf(record: MSKRecord): Record<string, Uint8Array[]> {
  const headers: Record<string, Uint8Array[]> = {};
  for (const entry of record.headers ?? []) {
    for (const [name, bytes] of Object.entries(entry)) {
      headers[name] ??= [];
      headers[name].push(Uint8Array.from(bytes));
    }
  }
  return headers;
}

const bytes = (base64: string | null | undefined) => (base64 === undefined || base64 === null ? null : Buffer.from(base64, 'base64'));

/**
 * A Lambda handler for Amazon MSK and self-managed Kafka event sources, with
 * the semantics of `kinesisHandler`: records of one key (subject) run one at
 * a time and in order, keys in parallel; poison records go to the dead letter
 * (partition = `<topic>-<partition>`, offset = the Kafka offset); a record
 * whose handler keeps failing is reported with every later record of its
 * topic-partition, so Lambda resumes the topic-partition at the failure.
 *
 * Values may be structured-mode CloudEvents JSON (what riverlog's Kafka log
 * writes) or binary mode (`ce_*` headers, data as the value): see
 * `envelopeFromKafkaRecord` in `@riverlog/core`.
 * Turn on `ReportBatchItemFailures` in the event source mapping, or Lambda
 * ignores the response.
 *
 * @example
 * export const handler = kafkaHandler({
 *   catalog,
 *   deadLetters: logDeadLetters(deadLetterLog),
 *   handlers: { 'product/create': async (event) => saveProduct(event.data), 'product/image': ignore },
 * });
 */
export function kafkaHandler<C extends Catalog>(
  options: LambdaHandlerOptions<C>,
): (event: MSKEvent | SelfManagedKafkaEvent, context: Context) => Promise<KafkaBatchResponse> {
  const run = batchRunner<C, KafkaItemIdentifier>(options, 'kafkaHandler');
  return async (event, context) => {
    const items: BatchItem<KafkaItemIdentifier>[] = [];
    for (const records of Object.values(event.records ?? {})) {
      for (const record of [...records].sort((a, b) => a.offset - b.offset)) {
        const stream = `${record.topic}-${record.partition}`;
        const key = bytes(record.key);
        const stored = envelopeFromKafkaRecord({ key, value: bytes(record.value), headers: headersOf(record) });
        items.push({
          record: { position: { partition: stream, offset: String(record.offset) }, ...stored },
          // Keyless records keep their partition's order among themselves.
          lane: key === null ? '' : `k:${record.key}`,
          stream,
          id: { partition: stream, offset: record.offset },
        });
      }
    }
    const failed = await run(items, context);
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
