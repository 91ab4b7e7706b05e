import { backoffPolicy, type Catalog, type DeadLetterSink, type EventOf, type LogRecord, RiverlogError } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';
import type { Context } from 'aws-lambda';
import { validateHandlers } from '../handlers.js';
import { hookEmitter } from '../hooks.js';
import { type RecordRunnerOptions, runRecord } from '../record-runner.js';
import type { ConsumerHandlers, ConsumerHooks, HandlerContext, HandlerRetryOptions } from '../types.js';

/** A handler's context inside a Lambda invocation: the consumer's, plus Lambda's own. */
export interface LambdaHandlerContext extends HandlerContext {
  readonly lambda: Context;
}

export interface LambdaHandlerOptions<C extends Catalog> {
  readonly catalog: C;
  /** A handler or `ignore` per catalog type; the same functions a `createConsumer` takes work here. */
  readonly handlers: ConsumerHandlers<C, LambdaHandlerContext>;
  /** Where records given up on go (not JSON, not an envelope, unknown type, unreadable events). */
  readonly deadLetters: DeadLetterSink;
  /** Default `'dead-letter'`. */
  readonly unknownTypes?: 'dead-letter' | 'ignore';
  /**
   * An event this catalog cannot read yet (a newer version, a payload failing
   * its schema). `'stop'` (default): it goes to the dead letter and is
   * reported failed, so Lambda holds its shard or topic-partition there until
   * a function with a catalog that reads it is deployed. `'dead-letter'`:
   * dead-letter it and go on.
   */
  readonly onUnreadable?: 'stop' | 'dead-letter';
  /**
   * Tries of a failing handler within one invocation before the record is
   * reported failed (Lambda then retries it). Default: 3 tries, 50 ms to 1 s apart.
   */
  readonly retry?: HandlerRetryOptions;
  /** The `group` of dead letters and handler contexts. Default: the function's name. */
  readonly group?: string;
  /** How many subjects are worked on at once. Default 8. */
  readonly concurrency?: number;
  /**
   * No record is started, and handlers' `signal` aborts, this long before the
   * invocation would time out; what is left is reported failed. Default 1000 ms.
   */
  readonly deadlineMarginMs?: number;
  readonly hooks?: Pick<ConsumerHooks<EventOf<C>>, 'onHandled' | 'onRetry' | 'onDeadLetter' | 'onIgnored' | 'onError'>;
}

/** One record of an invocation, ready to run. */
export interface BatchItem<Id> {
  readonly record: LogRecord;
  /** Records of one lane (one subject) run one at a time, in batch order. */
  readonly lane: string;
  /** The ordered sequence the record belongs to (a shard, a topic-partition): a failure holds back what follows it there. */
  readonly stream: string;
  /** What Lambda's partial batch response names the record by. */
  readonly id: Id;
}

export type BatchRunner<Id> = (items: readonly BatchItem<Id>[], context: Context) => Promise<Id[]>;

/**
 * Runs an invocation's records: lanes (subjects) in parallel, each in order;
 * returns the ids to report failed. Per stream, the first record that failed
 * and every record after it are reported, even those that succeeded, so that
 * Lambda's retry resumes at the failure and per-subject order holds.
 */
const KNOWN_OPTIONS: readonly (keyof LambdaHandlerOptions<Catalog>)[] = [
  'catalog',
  'handlers',
  'deadLetters',
  'unknownTypes',
  'onUnreadable',
  'retry',
  'group',
  'concurrency',
  'deadlineMarginMs',
  'hooks',
];

export function batchRunner<C extends Catalog, Id>(options: LambdaHandlerOptions<C>, where: string): BatchRunner<Id> {
  checkOptions(where, options, KNOWN_OPTIONS);
  validateHandlers(options.catalog, options.handlers as Record<string, unknown>, where);
  if (typeof (options.deadLetters as Partial<DeadLetterSink> | undefined)?.send !== 'function') {
    throw new RiverlogError('INVALID_OPTION', `${where}: deadLetters must be a DeadLetterSink (e.g. logDeadLetters(log)).`);
  }
  if (options.retry !== undefined) checkOptions(`${where} retry`, options.retry, ['attempts', 'initialMs', 'maxMs', 'factor', 'random']);
  const { attempts = 3, ...retryBackoff } = options.retry ?? {};
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RiverlogError('INVALID_OPTION', `${where}: retry.attempts must be a whole number ≥ 1, got ${attempts}.`);
  }
  const backoff = backoffPolicy({ initialMs: 50, maxMs: 1000, ...retryBackoff });
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RiverlogError('INVALID_OPTION', `${where}: concurrency must be a whole number ≥ 1, got ${concurrency}.`);
  }
  const marginMs = options.deadlineMarginMs ?? 1000;
  const { emit, reportError } = hookEmitter<EventOf<C>>(options.hooks);

  return async (items, lambda) => {
    const remaining = typeof lambda?.getRemainingTimeInMillis === 'function' ? () => lambda.getRemainingTimeInMillis() : undefined;
    const controller = new AbortController();
    const deadline = remaining ? setTimeout(() => controller.abort(), Math.max(0, remaining() - marginMs)) : undefined;
    const runner: RecordRunnerOptions<C, LambdaHandlerContext> = {
      catalog: options.catalog,
      handlers: options.handlers as unknown as RecordRunnerOptions<C, LambdaHandlerContext>['handlers'],
      unknownTypes: options.unknownTypes ?? 'dead-letter',
      onUnreadable: options.onUnreadable ?? 'stop',
      attempts,
      backoff,
      transient: backoff,
      group: options.group ?? lambda?.functionName ?? 'lambda',
      deadLetters: options.deadLetters,
      whenExhausted: 'fail',
      whenSinkFails: 'fail',
      canWait: remaining ? (ms) => remaining() - ms > marginMs : undefined,
      context: (base) => ({ ...base, lambda }),
      emit,
      timeHandlers: options.hooks?.onHandled !== undefined,
      reportError,
      retrying: (info) => emit('onRetry', info),
      recovered: () => {},
    };

    const firstFailure = new Map<string, number>();
    const markFailed = (index: number) => {
      const stream = (items[index] as BatchItem<Id>).stream;
      const first = firstFailure.get(stream);
      if (first === undefined || index < first) firstFailure.set(stream, index);
    };
    const heldBack = (index: number) => {
      const first = firstFailure.get((items[index] as BatchItem<Id>).stream);
      return first !== undefined && index > first;
    };

    const lanes = new Map<string, number[]>();
    items.forEach((item, index) => {
      const key = `${item.stream}\u0000${item.lane}`;
      const lane = lanes.get(key);
      if (lane) lane.push(index);
      else lanes.set(key, [index]);
    });
    const queue = [...lanes.values()];

    async function runLane(indices: readonly number[]): Promise<void> {
      for (const index of indices) {
        // A failure earlier in the stream: this record is reported anyway, and must not overtake it.
        if (heldBack(index)) return;
        if (controller.signal.aborted) return markFailed(index);
        const outcome = await runRecord((items[index] as BatchItem<Id>).record, controller.signal, runner);
        if (outcome !== 'done') return markFailed(index);
      }
    }

    try {
      await Promise.all(
        Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
          for (let lane = queue.shift(); lane; lane = queue.shift()) await runLane(lane);
        }),
      );
    } finally {
      clearTimeout(deadline);
    }
    return items
      .filter((item, index) => {
        const first = firstFailure.get(item.stream);
        return first !== undefined && index >= first;
      })
      .map((item) => item.id);
  };
}
