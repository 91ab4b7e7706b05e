// A fault-injecting wrapper around a real DynamoDBClient, for throttling tests:
// a share of calls fail with throttling errors before reaching the engine
// (as DynamoDB refuses a throttled request), and every BatchWriteItem writes
// only the first half of its items, handing the rest back as UnprocessedItems.
// Optionally, a share of writes fail with a 500 AFTER the engine applied them
// (an answer lost on the way back): conditional writes retried then find their
// own write.
import { BatchWriteItemCommand, type BatchWriteItemCommandInput, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { random } from '../fixtures/scale-model.mjs';

export interface FaultOptions {
  /** Share of calls refused with a throttling error before they reach the engine. Default 0.3. */
  readonly throttle?: number;
  /** Return the second half of each BatchWriteItem as UnprocessedItems (not written). Default true. */
  readonly halveBatches?: boolean;
  /** Share of writes (PutItem, UpdateItem, DeleteItem) applied and then answered with a 500. Default 0. */
  readonly lostAnswers?: number;
  /** Seed of the fault schedule. Default 11. */
  readonly seed?: number;
}

export interface FaultCounts {
  calls: number;
  throttled: number;
  unprocessed: number;
  lostAnswers: number;
}

const THROTTLES = ['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded'];

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} (injected by the test)`), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, attempts: 1 },
  });
}

/** The wrapper: a DynamoDBClient whose `send` injects faults and otherwise calls `real`. */
export function faultyClient(real: DynamoDBClient, options: FaultOptions = {}): DynamoDBClient & { readonly faults: FaultCounts } {
  const throttle = options.throttle ?? 0.3;
  const halve = options.halveBatches ?? true;
  const lostAnswers = options.lostAnswers ?? 0;
  const next = random(options.seed ?? 11);
  const faults: FaultCounts = { calls: 0, throttled: 0, unprocessed: 0, lostAnswers: 0 };
  const send = async (command: { constructor: { name: string }; input: unknown }) => {
    faults.calls++;
    if (next() < throttle) {
      faults.throttled++;
      throw awsError(THROTTLES[faults.throttled % THROTTLES.length] as string, 400);
    }
    if (halve && command instanceof BatchWriteItemCommand) {
      const input = command.input as BatchWriteItemCommandInput;
      const now: Record<string, WriteRequest[]> = {};
      const later: Record<string, WriteRequest[]> = {};
      for (const [table, requests] of Object.entries(input.RequestItems ?? {})) {
        const half = Math.ceil(requests.length / 2);
        now[table] = requests.slice(0, half);
        if (requests.length > half) later[table] = requests.slice(half);
        faults.unprocessed += requests.length - half;
      }
      const out = await real.send(new BatchWriteItemCommand({ ...input, RequestItems: now }));
      for (const [table, requests] of Object.entries(out.UnprocessedItems ?? {})) later[table] = [...(later[table] ?? []), ...requests];
      return { ...out, UnprocessedItems: later };
    }
    const out = await real.send(command as never);
    if (lostAnswers > 0 && /^(Put|Update|Delete)ItemCommand$/.test(command.constructor.name) && next() < lostAnswers) {
      faults.lostAnswers++;
      throw awsError('InternalServerError', 500);
    }
    return out;
  };
  return Object.assign(Object.create(real) as DynamoDBClient, { send, faults });
}
