import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { type BackoffOptions, type BackoffPolicy, backoffPolicy, ClosedError, RiverlogError } from '@riverlog/core';
import { checkOptions, sleep } from '@riverlog/core/backend';
import { type CommandOutput, sendRetrying } from './client.js';

/** The table the checkpoint, lease and dead-letter stores use when none is named. */
export const DEFAULT_STATE_TABLE = 'riverlog.state';

/** Options of `dynamoCheckpointStore`, `dynamoLeaseStore` and `dynamoDeadLetters`. */
export interface DynamoStateStoreOptions {
  /** Your configured client (region, credentials, endpoint). The store never destroys it. */
  readonly client: DynamoDBClient;
  /**
   * The table, keyed `pk` (S, hash) and `sk` (S, range): see
   * {@link stateTableDefinition}. The three stores may share one table
   * (their keys never collide). Default `riverlog.state`.
   */
  readonly table?: string;
  /**
   * Create the table (on demand capacity) on first use if it does not exist,
   * and wait until it is active: for development. Default false: create it
   * from {@link stateTableDefinition} with your infrastructure as code.
   */
  readonly createTables?: boolean;
  /** Backoff for throttling and 5xx errors, retried for as long as they last. Default core's: 50 ms doubling to 10 s. */
  readonly retry?: BackoffOptions;
}

const OPTION_NAMES = ['client', 'table', 'createTables', 'retry'] as const;

/**
 * The `CreateTable` input of the state table: `pk` (S) hash key, `sk` (S)
 * range key, on-demand billing. Use it with your infrastructure code, or let
 * a store create it with `createTables: true`.
 *
 * @example
 * await client.send(new CreateTableCommand(stateTableDefinition('riverlog.state')));
 */
export function stateTableDefinition(table: string = DEFAULT_STATE_TABLE): CreateTableCommandInput {
  return {
    TableName: table,
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

const errorName = (error: unknown): string | undefined => (error as { name?: string } | null)?.name;

/** True for a failed `ConditionExpression` (the compare-and-set lost). */
export function isConditionFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * One store's handle on its table: options checked, the table created on
 * first use when asked, every call through `sendRetrying`, a missing table
 * turned into a `STORE_OPEN_FAILED` that says what to do.
 */
export class StateTable {
  readonly client: DynamoDBClient;
  readonly name: string;
  private readonly policy: BackoffPolicy | undefined;
  private readonly createTables: boolean;
  private ready: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly where: string,
    options: DynamoStateStoreOptions,
  ) {
    checkOptions(where, options, OPTION_NAMES);
    const { client, table = DEFAULT_STATE_TABLE, createTables = false, retry } = options;
    if (client === null || typeof client !== 'object' || typeof (client as { send?: unknown }).send !== 'function') {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: client must be a DynamoDBClient (@aws-sdk/client-dynamodb), got ${typeof client}.`,
      );
    }
    if (typeof table !== 'string' || !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: table must be a DynamoDB table name (3–255 of A-Z a-z 0-9 _ . -), got ${JSON.stringify(table)}.`,
      );
    }
    if (typeof createTables !== 'boolean') {
      throw new RiverlogError('INVALID_OPTION', `${where}: createTables must be true or false, got ${JSON.stringify(createTables)}.`);
    }
    if (retry !== undefined && (retry === null || typeof retry !== 'object')) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: retry must be backoff options ({ initialMs, maxMs, factor }), got ${String(retry)}.`,
      );
    }
    this.client = client;
    this.name = table;
    this.createTables = createTables;
    this.policy = retry === undefined ? undefined : backoffPolicy(retry);
  }

  /**
   * Sends a command on this table, retrying throttling; rejects with `CLOSED`
   * after `close()`. `note.retried` is set when an attempt failed and was
   * retried: a conditional write may then have been applied by the attempt
   * whose answer was lost, and its condition fail on the next.
   */
  async send<C extends object>(command: C, note?: { retried: boolean }): Promise<CommandOutput<C>> {
    if (this.closed) throw new ClosedError(this.where);
    if (this.createTables) {
      this.ready ??= this.ensureTable().catch((error) => {
        this.ready = undefined;
        throw error;
      });
      await this.ready;
    }
    try {
      return await sendRetrying(this.client, command, {
        policy: this.policy,
        onRetry: note
          ? () => {
              note.retried = true;
            }
          : undefined,
      });
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') throw this.missing(error);
      throw error;
    }
  }

  /** Every item of one partition key, in sort-key order, read strongly consistent, page by page. */
  async queryAll(pk: string): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await this.send(
        new QueryCommand({
          TableName: this.name,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: pk } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  close(): void {
    this.closed = true;
  }

  private missing(cause: unknown): RiverlogError {
    return new RiverlogError(
      'STORE_OPEN_FAILED',
      `${this.where}: DynamoDB table ${this.name} does not exist (${(cause as Error).message}). Create it with the schema in @riverlog/dynamodb's README (stateTableDefinition: pk S hash, sk S range), or pass createTables: true in development.`,
      { cause },
    );
  }

  private async ensureTable(): Promise<void> {
    const describe = () =>
      sendRetrying(this.client, new DescribeTableCommand({ TableName: this.name }), { policy: this.policy }).catch((error) => {
        if (errorName(error) === 'ResourceNotFoundException') return undefined;
        throw error;
      });
    let found = await describe();
    if (!found) {
      try {
        await sendRetrying(this.client, new CreateTableCommand(stateTableDefinition(this.name)), { policy: this.policy });
      } catch (error) {
        // Another process created it first.
        if (errorName(error) !== 'ResourceInUseException') throw error;
      }
    }
    for (let attempt = 1; ; attempt++) {
      found ??= await describe();
      const table = found?.Table;
      if (table) {
        const keys = (table.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
        if (keys !== 'pk:HASH,sk:RANGE') {
          throw new RiverlogError(
            'STORE_OPEN_FAILED',
            `${this.where}: DynamoDB table ${this.name} exists with keys ${keys}, not pk (hash) and sk (range). Name another table, or create it from stateTableDefinition.`,
          );
        }
        if (table.TableStatus === 'ACTIVE') return;
      }
      found = undefined;
      await sleep(Math.min(1_000, 20 * attempt));
    }
  }
}

/** Reads a number attribute (undefined when absent). */
export function numberOf(item: Record<string, AttributeValue> | undefined, name: string): number | undefined {
  const value = item?.[name]?.N;
  return value === undefined ? undefined : Number(value);
}

/** Reads a string attribute (undefined when absent). */
export function stringOf(item: Record<string, AttributeValue> | undefined, name: string): string | undefined {
  return item?.[name]?.S;
}
