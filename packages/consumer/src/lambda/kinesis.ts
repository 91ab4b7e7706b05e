import type { Catalog, LogRecord } from '@riverlog/core';
import { decodeKinesisData, decodeUtf8 } from '@riverlog/core/backend';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { type BatchItem, batchRunner, type LambdaHandlerOptions } from './batch.js';

/** The shard a record came from: Kinesis event ids read `shardId-000000000000:<sequence number>`. */
function shardOf(record: KinesisStreamRecord): string {
  const colon = record.eventID.lastIndexOf(':');
  return colon > 0 ? record.eventID.slice(0, colon) : record.eventSourceARN;
}

/** The bytes as an envelope; bytes that are not UTF-8 or not JSON are kept as text, with the reason. */
function parse(bytes: Uint8Array, where: string, storedAt: number): Omit<LogRecord, 'position'> {
  let text: string;
  try {
    text = decodeUtf8(bytes, where);
  } catch (error) {
    return { event: undefined, raw: Buffer.from(bytes).toString('utf8'), error: (error as Error).message, storedAt };
  }
  try {
    return { event: JSON.parse(text), storedAt };
  } catch (error) {
    return { event: undefined, raw: text, error: `record data is not JSON: ${(error as Error).message}`, storedAt };
  }
}

/**
 * The base64 data as bytes, or undefined when it is not canonical base64
 * (Buffer.from would silently decode a truncated or mangled string to other bytes).
 */
function base64Bytes(data: string): Buffer | undefined {
  const bytes = Buffer.from(data, 'base64');
  return bytes.toString('base64') === data ? bytes : undefined;
}

/**
 * The items a Kinesis record holds: one, or one per user record of a KPL
 * aggregate (offset `<sequence number>.<index>`, lane = its own partition
 * key), all named by the Kinesis record's sequence number for Lambda.
 */
function itemsOf(record: KinesisStreamRecord): BatchItem<string>[] {
  const shard = shardOf(record);
  const sequenceNumber = record.kinesis.sequenceNumber;
  const storedAt = record.kinesis.approximateArrivalTimestamp * 1000;
  const where = `Kinesis record ${sequenceNumber}`;
  const item = (offset: string, lane: string, parsed: Omit<LogRecord, 'position'>): BatchItem<string> => ({
    record: { position: { partition: shard, offset }, ...parsed },
    lane,
    stream: shard,
    id: sequenceNumber,
  });
  const bytes = base64Bytes(record.kinesis.data);
  if (bytes === undefined) {
    const error = `record data is not valid base64 (${record.kinesis.data.length} characters; truncated or mangled in transit?).`;
    return [item(sequenceNumber, record.kinesis.partitionKey, { event: undefined, raw: record.kinesis.data, error, storedAt })];
  }
  const inside = decodeKinesisData(bytes);
  const only = inside[0];
  if (inside.length === 1 && only !== undefined && only.partitionKey === undefined) {
    return [item(sequenceNumber, record.kinesis.partitionKey, parse(only.data, where, storedAt))];
  }
  return inside.map((sub, index) =>
    item(
      `${sequenceNumber}.${index}`,
      sub.partitionKey ?? record.kinesis.partitionKey,
      parse(sub.data, `Kinesis record ${sequenceNumber}.${index}`, storedAt),
    ),
  );
}

/**
 * A Lambda handler for a Kinesis Data Streams event source: decodes each
 * record (base64, JSON, envelope, upcast, payload) and runs the handler of
 * its type. Records of one partition key (subject) run one at a time and in
 * order; different subjects run in parallel.
 *
 * Records written by the KPL or by `kinesisLog({ aggregate: true })` (the KPL
 * aggregation format; Lambda hands them over as they are) are unpacked here:
 * their user records run in order as if they were records of their own, at
 * offset `<sequence number>.<index>`, each in the lane of its own partition key.
 *
 * Poison records (data not base64, invalid UTF-8, not JSON, not an envelope,
 * unknown type) go to the dead letter with their reason and position (partition = shard
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
 *
 * Inside an aggregate, Lambda can only be told the aggregate's sequence
 * number: it checkpoints at the Kinesis record, not at the user record. So a
 * failure of user record `i` reports the whole aggregate (and what follows),
 * and the retry delivers the aggregate again from its first user record:
 * records `0..i-1`, already handled, are handled again (at-least-once, as
 * above; handlers must be idempotent, which they must anyway). Order holds:
 * nothing after the failure ran. The wider the aggregates, the more is
 * redone per failure (at most the records of one aggregate).
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
    const items = event.Records.flatMap(itemsOf);
    const failed = await run(items, context);
    // The records of one aggregate share their Kinesis record's sequence number: name it once.
    return { batchItemFailures: [...new Set(failed)].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
