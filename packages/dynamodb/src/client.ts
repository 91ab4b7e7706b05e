import { BatchWriteItemCommand, type BatchWriteItemCommandOutput, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { type BackoffPolicy, defaultBackoff, type RetryReport, RiverlogError, retryForever } from '@riverlog/core';
import { sleep } from '@riverlog/core/backend';

/**
 * A `DynamoDBClient` for a local DynamoDB-compatible server (dynalite in
 * riverlog's tests): the endpoint given, fixed dummy credentials and region
 * (a local engine checks neither). For AWS, configure your own client.
 *
 * @example
 * const client = localDynamoClient('http://127.0.0.1:4567');
 * const checkpoints = dynamoCheckpointStore({ client, table: 'riverlog.state', createTables: true });
 */
export function localDynamoClient(endpoint: string, options: { readonly region?: string } = {}): DynamoDBClient {
  if (typeof endpoint !== 'string' || !/^https?:\/\//.test(endpoint)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `localDynamoClient: endpoint must be an http(s) URL such as http://127.0.0.1:4567, got ${JSON.stringify(endpoint)}.`,
    );
  }
  return new DynamoDBClient({
    endpoint,
    region: options.region ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // riverlog retries throttling itself (sendRetrying); the SDK's own attempts would stack on top.
    maxAttempts: 1,
  });
}

/** What the stores pass to {@link sendRetrying} and {@link batchWriteAll}. */
export interface DynamoRetryOptions {
  /** Default: core's `defaultBackoff` (50 ms doubling to 10 s, jitter). */
  readonly policy?: BackoffPolicy;
  /** Stops the waiting: the call then rejects with the last error. */
  readonly signal?: AbortSignal;
  /** Called before each wait: the place to surface a status. */
  readonly onRetry?: (report: RetryReport) => void;
}

const RETRYABLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'ThrottlingError',
  'TooManyRequestsException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** Connection errors of a request under way: a reused keep-alive socket the server had just closed, a timeout. */
const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/**
 * Whether DynamoDB said "slow down" or failed on its side: throttling
 * (`ProvisionedThroughputExceededException`, `ThrottlingException`,
 * `RequestLimitExceeded`), any 5xx, or a connection dropped under a request
 * (`ECONNRESET` "socket hang up", `EPIPE`, `ETIMEDOUT`). These are retried
 * for as long as they last; a write whose answer was lost may have been
 * applied, which the stores' conditions tell on the next attempt. A
 * conditional check that failed, a missing table or a validation error is
 * not retryable; nor is a connection refused (a wrong endpoint must not hang
 * a call forever: the workers above retry that with their status).
 *
 * @example
 * if (isRetryableDynamoError(error)) await later();
 */
export function isRetryableDynamoError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } };
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && DROPPED_CODES.has(e.code)) return true;
  if (e.$retryable?.throttling) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** The output type of an SDK command, read off its middleware handler. */
export type CommandOutput<C> = C extends {
  resolveMiddleware(...args: never[]): (...args: never[]) => Promise<{ output: infer O }>;
}
  ? O
  : never;

/**
 * `client.send(command)`, retrying throttling and 5xx errors
 * ({@link isRetryableDynamoError}) with core's one backoff policy, for as
 * long as they last. Other errors reject at once.
 *
 * @example
 * const out = await sendRetrying(client, new GetItemCommand({ TableName, Key, ConsistentRead: true }));
 * out.Item;
 */
export function sendRetrying<C extends object>(
  client: DynamoDBClient,
  command: C,
  options: DynamoRetryOptions = {},
): Promise<CommandOutput<C>> {
  return retryForever(() => client.send(command as never) as Promise<CommandOutput<C>>, {
    policy: options.policy ?? defaultBackoff,
    signal: options.signal,
    retryable: isRetryableDynamoError,
    onRetry: options.onRetry,
  });
}

/** Most requests in one BatchWriteItem call (DynamoDB's limit). */
export const BATCH_WRITE_MAX = 25;

export interface BatchWriteOptions extends DynamoRetryOptions {
  /** BatchWriteItem calls in flight at once. Default 4. */
  readonly concurrency?: number;
}

/**
 * Writes every request (puts and deletes, no conditions: BatchWriteItem takes
 * none) in calls of 25, `concurrency` at once, each through
 * {@link sendRetrying}; the `UnprocessedItems` DynamoDB hands back are sent
 * again after a backoff wait (reset whenever a call makes progress) until
 * none is left. Resolves once every request was written.
 *
 * @example
 * await batchWriteAll(client, { 'riverlog-dead-letters': letters.map((Item) => ({ PutRequest: { Item } })) });
 */
export async function batchWriteAll(
  client: DynamoDBClient,
  requests: Readonly<Record<string, readonly WriteRequest[]>>,
  options: BatchWriteOptions = {},
): Promise<void> {
  const concurrency = options.concurrency ?? 4;
  if (!(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    throw new RiverlogError('INVALID_OPTION', `batchWriteAll: concurrency must be an integer ≥ 1, got ${String(concurrency)}.`);
  }
  const pending: [string, WriteRequest][] = [];
  for (const table in requests) for (const request of requests[table] ?? []) pending.push([table, request]);
  const policy = options.policy ?? defaultBackoff;
  const worker = async (): Promise<void> => {
    let stalled = 0;
    while (pending.length > 0) {
      const chunk = pending.splice(0, BATCH_WRITE_MAX);
      const RequestItems: Record<string, WriteRequest[]> = {};
      for (const [table, request] of chunk) {
        const list = RequestItems[table];
        if (list) list.push(request);
        else RequestItems[table] = [request];
      }
      const out: BatchWriteItemCommandOutput = await sendRetrying(client, new BatchWriteItemCommand({ RequestItems }), options);
      let left = 0;
      for (const table in out.UnprocessedItems ?? {}) {
        for (const request of out.UnprocessedItems?.[table] ?? []) {
          pending.push([table, request]);
          left++;
        }
      }
      if (left === 0) {
        stalled = 0;
        continue;
      }
      stalled = left < chunk.length ? 1 : stalled + 1;
      const delayMs = policy.delay(stalled);
      options.onRetry?.({
        attempt: stalled,
        error: new RiverlogError('STORE_BUSY', `BatchWriteItem left ${left} of ${chunk.length} items unprocessed; sending them again.`),
        delayMs,
      });
      if (!(await sleep(delayMs, options.signal))) {
        throw new RiverlogError('STOPPED', `batchWriteAll: stopped with ${pending.length} items not written.`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.ceil(pending.length / BATCH_WRITE_MAX)) }, worker));
}
