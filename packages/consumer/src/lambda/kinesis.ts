import type { Catalog, LogRecord } from '@riverlog/core';
import { decodeUtf8 } from '@riverlog/core/backend';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { type BatchItem, batchRunner, type LambdaHandlerOptions } from './batch.js';

/** The shard a record came from: Kinesis event ids read `shardId-000000000000:<sequence number>`. */
function shardOf(record: KinesisStreamRecord): string {
  const colon = record.eventID.lastIndexOf(':');
  return colon > 0 ? record.eventID.slice(0, colon) : record.eventSourceARN;
}

/** The record's data as an envelope; bytes that are not UTF-8 or not JSON are kept as text, with the reason. */
function parse(record: KinesisStreamRecord): Omit<LogRecord, 'position'> {
  const bytes = Buffer.from(record.kinesis.data, 'base64');
  const storedAt = record.kinesis.approximateArrivalTimestamp * 1000;
  let text: string;
  try {
    text = decodeUtf8(bytes, `Kinesis record ${record.kinesis.sequenceNumber}`);
  } catch (error) {
    return { event: undefined, raw: bytes.toString('utf8'), error: (error as Error).message, storedAt };
  }
  try {
    return { event: JSON.parse(text), storedAt };
  } catch (error) {
    return { event: undefined, raw: text, error: `record data is not JSON: ${(error as Error).message}`, storedAt };
  }
}

/**
 * A Lambda handler for a Kinesis Data Streams event source: decodes each
 * record (base64, JSON, envelope, upcast, payload) and runs the handler of
 * its type. Records of one partition key (subject) run one at a time and in
 * order; different subjects run in parallel.
 *
 * Poison records (invalid UTF-8, not JSON, not an envelope, unknown type)
 * go to the dead letter with their reason and position (partition = shard
 * id, offset = sequence number) and the batch moves on; if the sink fails,
 * the record counts as failed. An event the catalog cannot read yet (a newer
 * version, a payload failing its schema) goes to the dead letter and, with
 * `onUnreadable: 'stop'` (default), counts as failed, so the shard waits for
 * a deploy of the newer catalog.
 *
 * A handler that still fails after the in-invocation retries makes the
 * record failed. The response then names that record **and every later
 * record of the batch**, succeeded or not. Why: Lambda checkpoints the shard
 * just before the lowest reported sequence number and redelivers everything
 * after it. Reporting only the failure would be read the same way, but
 * reporting everything from it on says what happens, and it guarantees that
 * no later record of the failed subject was handled before it: those are held
 * back in this invocation and redelivered after it. Records of other subjects
 * that already succeeded are delivered again (at-least-once).
 * Turn on `ReportBatchItemFailures` in the event source mapping, or Lambda
 * ignores the response.
 *
 * @example
 * export const handler = kinesisHandler({
 *   catalog,
 *   deadLetters: logDeadLetters(deadLetterLog),
 *   handlers: {
 *     'product/create': async (event) => saveProduct(event.data),
 *     'product/image': ignore,
 *   },
 * });
 */
export function kinesisHandler<C extends Catalog>(
  options: LambdaHandlerOptions<C>,
): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  const run = batchRunner<C, string>(options, 'kinesisHandler');
  return async (event, context) => {
    const items: BatchItem<string>[] = event.Records.map((record) => {
      const shard = shardOf(record);
      return {
        record: { position: { partition: shard, offset: record.kinesis.sequenceNumber }, ...parse(record) },
        lane: record.kinesis.partitionKey,
        stream: shard,
        id: record.kinesis.sequenceNumber,
      };
    });
    const failed = await run(items, context);
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
