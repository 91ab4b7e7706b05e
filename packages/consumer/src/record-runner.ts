import type { Catalog, DeadLetter, DeadLetterSink, EventOf, ignore, LogRecord } from '@riverlog/core';
import { sleep } from '@riverlog/core';
import { classifyRecord, DeadLetterCodes, describeError } from './classify.js';
import { backoffDelay, type ResolvedRetryPolicy } from './retry.js';
import type { ConsumerHooks, ErrorStage, HandlerContext } from './types.js';

/**
 * `done`: finished (handled, ignored or durable in the dead letter).
 * `failed`: given up on, to be delivered again (Lambda's partial batch response).
 * `abandoned`: left unfinished because the signal aborted.
 */
export type RunOutcome = 'done' | 'failed' | 'abandoned';

type AnyHandler = (event: never, context: never) => Promise<void> | void;

export interface RecordRunnerOptions<C extends Catalog, Context extends HandlerContext> {
  readonly catalog: C;
  readonly handlers: Readonly<Record<string, AnyHandler | typeof ignore>>;
  readonly unknownTypes: 'dead-letter' | 'ignore';
  readonly retry: ResolvedRetryPolicy;
  readonly group: string;
  readonly deadLetter: DeadLetterSink;
  /** After the handler's last try: dead-letter the record (a consumer) or report it failed (Lambda, which retries the batch itself). */
  readonly whenExhausted: 'dead-letter' | 'fail';
  /** When the sink rejects: try it again until it works or the signal aborts (a consumer), or report the record failed (Lambda). */
  readonly whenSinkFails: 'retry' | 'fail';
  /** Whether there is time left to wait `ms` before another try. Default: always. */
  readonly canWait?: (ms: number) => boolean;
  /** Builds the handler's context from the common part. */
  readonly context: (base: HandlerContext) => Context;
  readonly emit: <K extends keyof ConsumerHooks<EventOf<C>>>(
    name: K,
    ...args: Parameters<NonNullable<ConsumerHooks<EventOf<C>>[K]>>
  ) => void;
  readonly reportError: (error: unknown, stage: ErrorStage, partition?: string) => void;
  /** Whether anyone listens to `onHandled`, so the hot path times nothing for nobody. */
  readonly timeHandlers: boolean;
}

/**
 * Takes one record from decoding to done: dead letter for what does not
 * decode (and unknown types, unless ignored), the handler of its type with
 * retries and backoff for the rest. Shared by the consumer and the Lambda adapters.
 * A record whose handler finishes synchronously is done synchronously: no
 * promise is made for it, which is most of the cost of a fast handler.
 */
export function runRecord<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): RunOutcome | Promise<RunOutcome> {
  const classified = classifyRecord(options.catalog, record);
  if (classified.kind === 'poison') return deadLetter(record, DeadLetterCodes.decodeFailed, classified.reason, 0, signal, options);
  if (classified.kind === 'unknown-type') {
    if (options.unknownTypes === 'dead-letter')
      return deadLetter(record, DeadLetterCodes.unknownType, classified.reason, 0, signal, options);
    options.emit('onIgnored', { record, type: classified.type });
    return 'done';
  }
  const { event } = classified;
  const handler = options.handlers[event.type] as Handler<C, Context> | typeof ignore;
  if (typeof handler !== 'function') {
    options.emit('onIgnored', { record, type: event.type });
    return 'done';
  }
  if (signal.aborted) return 'abandoned';
  const timed = options.timeHandlers;
  const started = timed ? performance.now() : 0;
  let result: Promise<void> | void;
  try {
    result = handler(event, options.context({ group: options.group, position: record.position, attempt: 1, signal, record }));
  } catch (error) {
    return retryAfterFailure(record, event, handler, error, signal, options);
  }
  if (result === undefined || typeof (result as Promise<void>).then !== 'function') {
    if (timed) options.emit('onHandled', { event, position: record.position, attempts: 1, durationMs: performance.now() - started });
    return 'done';
  }
  return (result as Promise<void>).then(
    () => {
      if (timed) options.emit('onHandled', { event, position: record.position, attempts: 1, durationMs: performance.now() - started });
      return 'done';
    },
    (error: unknown) => retryAfterFailure(record, event, handler, error, signal, options),
  );
}

type Handler<C extends Catalog, Context> = (event: EventOf<C>, context: Context) => Promise<void> | void;

/** The retry loop after the first try failed: backoff, further tries, then the dead letter (or `failed`). */
async function retryAfterFailure<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  event: EventOf<C>,
  handler: Handler<C, Context>,
  firstError: unknown,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): Promise<RunOutcome> {
  const { retry } = options;
  let error = firstError;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) {
      if (signal.aborted) return 'abandoned';
      const started = performance.now();
      try {
        await handler(event, options.context({ group: options.group, position: record.position, attempt, signal, record }));
        options.emit('onHandled', { event, position: record.position, attempts: attempt, durationMs: performance.now() - started });
        return 'done';
      } catch (thrown) {
        error = thrown;
      }
    }
    if (signal.aborted) return 'abandoned';
    const delayMs = backoffDelay(retry, attempt);
    if (attempt >= retry.maxAttempts || !(options.canWait?.(delayMs) ?? true)) {
      if (options.whenExhausted === 'fail') {
        options.reportError(error, 'handler', record.position.partition);
        return 'failed';
      }
      const { partition, offset } = record.position;
      const reason = `handler for ${JSON.stringify(event.type)} failed ${attempt} time${attempt === 1 ? '' : 's'} at partition ${partition}, offset ${offset}; last error: ${describeError(error)}`;
      return deadLetter(record, DeadLetterCodes.handlerFailed, reason, attempt, signal, options);
    }
    options.emit('onRetry', { event, position: record.position, attempt, error, delayMs });
    if (!(await sleep(delayMs, signal))) return 'abandoned';
  }
}

async function deadLetter<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  code: string,
  reason: string,
  attempts: number,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): Promise<RunOutcome> {
  const letter: DeadLetter = { group: options.group, record, code, reason, attempts, at: new Date().toISOString() };
  for (let failures = 1; ; failures++) {
    try {
      await options.deadLetter.send([letter]);
      options.emit('onDeadLetter', letter);
      return 'done';
    } catch (error) {
      options.reportError(error, 'dead-letter', record.position.partition);
      if (options.whenSinkFails === 'fail') return 'failed';
      if (!(await sleep(backoffDelay(options.retry, Math.min(failures, 10)), signal))) return 'abandoned';
    }
  }
}
