import {
  type BackoffPolicy,
  type Catalog,
  type DeadLetter,
  type DeadLetterSink,
  type DecodeError,
  decodeRecord,
  type EventOf,
  type ignore,
  type LogRecord,
  retryForever,
} from '@riverlog/core';
import { sleep } from '@riverlog/core/backend';
import { type Classified, classifyFailure, DeadLetterCodes, describeError } from './classify.js';
import type { ConsumerHooks, ErrorStage, HandlerContext, RetryInfo } from './types.js';

/**
 * `done`: finished (handled, ignored or durable in the dead letter).
 * `failed`: given up on, to be delivered again (Lambda's partial batch response).
 * `abandoned`: left unfinished because the signal aborted.
 * `{ stop }`: an event this catalog cannot read yet, with `onUnreadable: 'stop'`:
 * it is in the dead letter, and its partition stops before it.
 */
export type RunOutcome = 'done' | 'failed' | 'abandoned' | { readonly stop: DecodeError };

type AnyHandler = (event: never, context: never) => Promise<void> | void;

export interface RecordRunnerOptions<C extends Catalog, Context extends HandlerContext> {
  readonly catalog: C;
  readonly handlers: Readonly<Record<string, AnyHandler | typeof ignore>>;
  readonly unknownTypes: 'dead-letter' | 'ignore';
  readonly onUnreadable: 'stop' | 'dead-letter';
  /** Tries of a failing handler in all. */
  readonly attempts: number;
  /** Waits between handler tries. */
  readonly backoff: BackoffPolicy;
  /** Waits between tries of a failing dead-letter sink. */
  readonly transient: BackoffPolicy;
  readonly group: string;
  readonly deadLetters: DeadLetterSink;
  /** After the handler's last try, or on an unreadable event to stop at: dead-letter the record (a consumer) or report it failed (Lambda, which retries the batch itself). */
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
  /** A failure that will be tried again (reported to `onRetry` and kept in the status). */
  readonly retrying: (info: RetryInfo<EventOf<C>>) => void;
  /** The failures of `stage` in `partition` are over. */
  readonly recovered: (stage: RetryInfo['stage'], partition: string) => void;
  /** Whether anyone listens to `onHandled`, so the hot path times nothing for nobody. */
  readonly timeHandlers: boolean;
}

/**
 * Takes one record from decoding to done: the dead letter for what is not an
 * envelope (and unknown types, unless ignored), stop or dead letter for what
 * this catalog cannot read yet, and the handler of its type with retries
 * and backoff for the rest. Shared by the consumer and the Lambda adapters.
 * A record whose handler finishes synchronously is done synchronously: no
 * promise is made for it, which is most of the cost of a fast handler.
 */
export function runRecord<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): RunOutcome | Promise<RunOutcome> {
  // decodeRecord, not classifyRecord: no wrapper object per record on the hot path.
  const decoded = decodeRecord(options.catalog, record);
  if (decoded._tag === 'Left') return notAnEvent(record, classifyFailure(decoded.left), signal, options);
  const event = decoded.right as EventOf<C>;
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

/** A record that is not a known, readable event: dead letter, ignore, or stop. */
function notAnEvent<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  classified: Exclude<Classified<never>, { kind: 'event' }>,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): RunOutcome | Promise<RunOutcome> {
  const { error } = classified;
  if (classified.kind === 'unknown-type' && options.unknownTypes === 'ignore') {
    options.emit('onIgnored', { record, type: classified.type });
    return 'done';
  }
  const letter = deadLetter(record, error.code, error.message, 0, signal, options);
  if (classified.kind !== 'unreadable' || options.onUnreadable === 'dead-letter') return letter;
  // Stop before it: the letter makes it visible; the checkpoint stays before it, so a newer catalog resumes there.
  return letter.then((outcome) => {
    if (outcome !== 'done') return outcome;
    return options.whenExhausted === 'fail' ? 'failed' : { stop: error };
  });
}

/** The retry loop after the first try failed: backoff, further tries, then the dead letter (or `failed`). */
async function retryAfterFailure<C extends Catalog, Context extends HandlerContext>(
  record: LogRecord,
  event: EventOf<C>,
  handler: Handler<C, Context>,
  firstError: unknown,
  signal: AbortSignal,
  options: RecordRunnerOptions<C, Context>,
): Promise<RunOutcome> {
  const { partition } = record.position;
  let error = firstError;
  let retried = false;
  try {
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
      const delayMs = options.backoff.delay(attempt);
      if (attempt >= options.attempts || !(options.canWait?.(delayMs) ?? true)) {
        if (options.whenExhausted === 'fail') {
          options.reportError(error, 'handler', partition);
          return 'failed';
        }
        const reason = `handler for ${JSON.stringify(event.type)} failed ${attempt} time${attempt === 1 ? '' : 's'} at partition ${partition}, offset ${record.position.offset}; last error: ${describeError(error)}`;
        return await deadLetter(record, DeadLetterCodes.handlerFailed, reason, attempt, signal, options);
      }
      retried = true;
      options.retrying({ stage: 'handler', partition, event, position: record.position, attempt, error, delayMs });
      if (!(await sleep(delayMs, signal))) return 'abandoned';
    }
  } finally {
    if (retried) options.recovered('handler', partition);
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
  const { partition } = record.position;
  const send = () => options.deadLetters.send([letter]);
  try {
    if (options.whenSinkFails === 'fail') await send();
    else {
      let failed = false;
      try {
        await retryForever(send, {
          policy: options.transient,
          signal,
          onRetry: ({ attempt, error, delayMs }) => {
            failed = true;
            options.retrying({ stage: 'dead-letter', partition, attempt, error, delayMs });
          },
        });
      } finally {
        if (failed) options.recovered('dead-letter', partition);
      }
    }
  } catch (error) {
    if (options.whenSinkFails === 'fail') {
      options.reportError(error, 'dead-letter', partition);
      return 'failed';
    }
    return 'abandoned';
  }
  options.emit('onDeadLetter', letter);
  return 'done';
}
