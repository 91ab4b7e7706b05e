import { type AttributeValue, PutItemCommand, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { DeadLetter, DeadLetterSink, LogRecord } from '@riverlog/core';
import { type DynamoStateStoreOptions, isConditionFailed, numberOf, StateTable, stringOf } from './state-table.js';

/** The partition key of a group's dead letters. */
export const deadLetterKey = (group: string): string => `dead-letter#${group}`;

const pad = (n: number) => String(n).padStart(4, '0');

/**
 * The sort key of a letter: partition and offset, each after its length, so
 * that every position has its own key and digit strings sort as numbers
 * (`0001:0|0002:42`).
 */
export const deadLetterSortKey = (partition: string, offset: string): string =>
  `${pad(partition.length)}:${partition}|${pad(offset.length)}:${offset}`;

/** A stored record's JSON above this is cut down to fit an item (DynamoDB holds 400 KB per item). */
const MAX_RECORD_BYTES = 300_000;
const KEPT_CHARS = 60_000;
const MAX_REASON_CHARS = 10_000;
/** Letters written at once. */
const IN_FLIGHT = 8;

/** A dead-letter sink in DynamoDB that can also list what it holds. */
export interface DynamoDeadLetters extends DeadLetterSink {
  /**
   * The letters of one group (a strongly consistent `Query`), in partition
   * and offset order; without a group, of every group (a `Scan` of the
   * table: needs `dynamodb:Scan`).
   */
  list(group?: string): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

/** The record as stored: whole, or cut down (and said so in `error`) when it would not fit an item. */
function storedRecord(record: LogRecord): string {
  const text = JSON.stringify(record);
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_RECORD_BYTES) return text;
  const original = record.raw ?? JSON.stringify(record.event) ?? '';
  const cut: LogRecord = {
    position: record.position,
    event: undefined,
    raw: original.slice(0, KEPT_CHARS),
    error: `${record.error ? `${record.error}; ` : ''}the record was ${bytes} bytes as JSON, more than a DynamoDB item holds: its first ${KEPT_CHARS} characters are kept in raw; read it from the log at its position`,
    ...(record.storedAt === undefined ? {} : { storedAt: record.storedAt }),
  };
  return JSON.stringify(cut);
}

function toLetter(item: Record<string, AttributeValue>): DeadLetter {
  return {
    group: stringOf(item, 'group') ?? '',
    record: JSON.parse(stringOf(item, 'record') ?? '{}'),
    code: stringOf(item, 'code') ?? '',
    reason: stringOf(item, 'reason') ?? '',
    attempts: numberOf(item, 'attempts') ?? 0,
    at: stringOf(item, 'at') ?? '',
  };
}

/**
 * Dead letters in a DynamoDB table (see `stateTableDefinition`): one item per
 * group and position, `pk = dead-letter#<group>`, `sk =` partition and
 * offset (see {@link deadLetterSortKey}), holding the record (JSON), code,
 * reason, attempts and time. Each letter is a conditional `PutItem` (only if
 * absent), so a letter sent again for the same group and position (a retry)
 * is kept once: the first one stays. `send` resolves once every letter is
 * written. A record too large for an item (400 KB) is kept cut down, saying
 * so in its `error`.
 *
 * @example
 * import { dynamoDeadLetters } from '@riverlog/dynamodb';
 *
 * const deadLetters = dynamoDeadLetters({ client, table: 'riverlog.state' });
 * // hand it to a consumer or a view; later:
 * for (const letter of await deadLetters.list('emailer')) console.log(letter.code, letter.reason, letter.record.position);
 */
export function dynamoDeadLetters(options: DynamoStateStoreOptions): DynamoDeadLetters {
  const table = new StateTable('dynamoDeadLetters', options);

  async function put(letter: DeadLetter): Promise<void> {
    const { partition, offset } = letter.record.position;
    try {
      await table.send(
        new PutItemCommand({
          TableName: table.name,
          Item: {
            pk: { S: deadLetterKey(letter.group) },
            sk: { S: deadLetterSortKey(partition, offset) },
            group: { S: letter.group },
            partition: { S: partition },
            offset: { S: offset },
            code: { S: letter.code },
            reason: { S: letter.reason.slice(0, MAX_REASON_CHARS) },
            attempts: { N: String(letter.attempts) },
            at: { S: letter.at },
            record: { S: storedRecord(letter.record) },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // Kept already: the first letter for a position stays.
      if (!isConditionFailed(error)) throw error;
    }
  }

  return {
    async send(letters) {
      const first = new Map<string, DeadLetter>();
      for (const letter of letters) {
        const id = `${deadLetterKey(letter.group)}\u0000${deadLetterSortKey(letter.record.position.partition, letter.record.position.offset)}`;
        if (!first.has(id)) first.set(id, letter);
      }
      const queue = [...first.values()];
      const worker = async () => {
        for (let letter = queue.shift(); letter; letter = queue.shift()) await put(letter);
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, queue.length) }, worker));
    },

    async list(group) {
      if (group !== undefined) return (await table.queryAll(deadLetterKey(group))).map(toLetter);
      const letters: DeadLetter[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page: ScanCommandOutput = await table.send(
          new ScanCommand({
            TableName: table.name,
            FilterExpression: 'begins_with(pk, :prefix)',
            ExpressionAttributeValues: { ':prefix': { S: 'dead-letter#' } },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) letters.push(toLetter(item));
        start = page.LastEvaluatedKey;
      } while (start);
      return letters;
    },

    async close() {
      table.close();
    },
  };
}
