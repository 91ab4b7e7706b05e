import {
  type AnyEventDefinition,
  type Catalog,
  ClosedError,
  createEvent,
  type DataOf,
  type Envelope,
  type EventDefinition,
  type EventLog,
  type EventMeta,
  RiverlogError,
} from '@riverlog/core';
import { assertEnvelopeFits, checkOptions, serializeEnvelope } from '@riverlog/core/backend';
import { AppendQueue, type Emitted } from './append-queue.js';

export { AppendNotAttemptedError, type Emitted } from './append-queue.js';

export interface ProducerOptions<Defs extends AnyEventDefinition> {
  /** Where events go. The producer never closes it. */
  readonly log: EventLog;
  /** The event types this producer may emit; payloads are validated against it. */
  readonly catalog: Catalog<Defs>;
  /** The envelope's `source`: who emits, e.g. `hello-retail/web-client`. */
  readonly source: string;
  /**
   * Milliseconds to wait for more events before appending a batch. Default 0:
   * the batch goes on the next turn of the event loop (`setImmediate`), which
   * gathers every emit made in the current one.
   */
  readonly linger?: number;
  /** Most events gathered from several calls into one `log.append`. Default 500 (a Kinesis PutRecords). */
  readonly batchSize?: number;
  /**
   * Most events accepted and not yet acknowledged. Past it, new calls wait
   * (their promises resolve later) until appends make room. Default 10,000.
   */
  readonly maxPending?: number;
}

/** One event of an `emitMany` call; `data` is checked against its type's payload. */
export type EmitItem<Defs> =
  Defs extends EventDefinition<infer Type, infer Data, infer _Wire>
    ? { readonly type: Type; readonly subject: string; readonly data: Data; readonly meta?: EventMeta }
    : never;

const knownOptions = ['log', 'catalog', 'source', 'linger', 'batchSize', 'maxPending'] as const;

/**
 * Validates, wraps and batches events, and appends them to a log.
 * Build one per process and share it: batching is what makes it fast.
 *
 * When an append fails, its calls reject with the log's error, and every
 * call still queued behind it that holds one of its subjects rejects with
 * {@link AppendNotAttemptedError} (nothing of it written), so a caller that
 * retries what failed, in order, keeps per-subject order.
 */
export interface Producer<Defs extends AnyEventDefinition = AnyEventDefinition> {
  /**
   * Validates one event, queues it and resolves with its id and position
   * once the log acknowledged it (resend with `meta.id` set to that id to
   * have it stored once). Rejects with `ValidationError`,
   * `UnknownEventTypeError` or `EventTooLargeError` before anything is
   * queued; with the log's error if the append of its batch failed; with
   * `AppendNotAttemptedError` if an earlier append of its subject failed.
   */
  emit<T extends Defs['type']>(type: T, subject: string, data: DataOf<Defs, T>, meta?: EventMeta): Promise<Emitted>;
  /**
   * Emits several events as one call: all are validated first (the error
   * names the failing item's index) and if any is refused none is queued.
   * Up to `batchSize` items go into one `log.append`; a larger call is
   * appended alone, in one append. Ids and positions come back in item order.
   */
  emitMany(items: readonly EmitItem<Defs>[]): Promise<Emitted[]>;
  /** Appends everything queued now, without lingering; resolves once every queued call has settled. */
  flush(): Promise<void>;
  /** Flushes, then refuses new emits with `ClosedError`. Does not close the log, which the caller owns. Idempotent. */
  close(): Promise<void>;
  /** Events accepted and not yet acknowledged (queued or being appended). */
  readonly pending: number;
  /** Events of calls waiting for room because `maxPending` was reached. */
  readonly blocked: number;
}

/**
 * Makes a producer that appends validated events from `catalog` to `log`.
 * Types and payloads are checked at compile time from the catalog, and again
 * at run time before anything is written.
 *
 * @example
 * const producer = createProducer({ log, catalog, source: 'hello-retail/web-client' });
 * const position = await producer.emit('product/create', 'p-1', { id: 'p-1', name: 'Boot' });
 * await producer.emitMany([
 *   { type: 'product/purchase', subject: 'p-1', data: { id: 'p-1', quantity: 2 } },
 *   { type: 'product/purchase', subject: 'p-1', data: { id: 'p-1', quantity: 1 }, meta: { correlationid: 'order-7' } },
 * ]);
 * await producer.close();
 */
export function createProducer<Defs extends AnyEventDefinition>(options: ProducerOptions<Defs>): Producer<Defs> {
  checkOptions('createProducer', options, knownOptions);
  const { log, catalog, source } = options;
  if (typeof log?.append !== 'function') {
    throw new RiverlogError('INVALID_OPTION', `createProducer: log must be an EventLog (e.g. sqliteLog(...)), got ${describe(log)}.`);
  }
  if (typeof catalog?.definition !== 'function') {
    throw new RiverlogError('INVALID_OPTION', `createProducer: catalog must be a catalog from defineCatalog, got ${describe(catalog)}.`);
  }
  if (typeof source !== 'string' || source.length === 0) {
    throw new RiverlogError('INVALID_OPTION', `createProducer: source must be a non-empty string, got ${describe(source)}.`);
  }
  const batchSize = positiveInteger('batchSize', options.batchSize ?? 500);
  const maxPending = positiveInteger('maxPending', options.maxPending ?? 10_000);
  const linger = options.linger ?? 0;
  if (typeof linger !== 'number' || !Number.isFinite(linger) || linger < 0) {
    throw new RiverlogError('INVALID_OPTION', `createProducer: linger must be a number of milliseconds ≥ 0, got ${describe(linger)}.`);
  }
  const limit = log.maxEventBytes;
  const queue = new AppendQueue({ log, batchSize, maxPending, linger });
  let closed = false;

  function build(type: string, subject: string, data: unknown, meta: EventMeta | undefined): Envelope {
    const options = meta === undefined ? { source } : { ...meta, source: meta.source ?? source };
    const event = createEvent(catalog, type as Defs['type'], subject, data as never, options);
    // Serialized once: the log's write reuses this text.
    assertEnvelopeFits(event, serializeEnvelope(event), limit);
    return event;
  }

  return {
    emit(type, subject, data, meta) {
      return new Promise<Emitted>((resolve, reject) => {
        if (closed) throw new ClosedError('producer');
        const event = build(type, subject, data, meta);
        queue.submitOne(event, resolve, reject);
      });
    },
    emitMany(items) {
      return new Promise<Emitted[]>((resolve, reject) => {
        if (closed) throw new ClosedError('producer');
        if (!Array.isArray(items)) {
          throw new RiverlogError(
            'INVALID_OPTION',
            `emitMany: items must be an array of { type, subject, data, meta? }, got ${describe(items)}; for one event, call emit.`,
          );
        }
        const events = items.map((item, index) => {
          try {
            if (item === null || typeof item !== 'object') {
              throw new RiverlogError('INVALID_OPTION', `an item must be an object { type, subject, data, meta? }, got ${describe(item)}.`);
            }
            return build(item.type, item.subject, item.data, item.meta);
          } catch (error) {
            throw atItem(error, index, items.length);
          }
        });
        if (events.length === 0) resolve([]);
        else queue.submitMany(events, resolve, reject);
      });
    },
    flush() {
      return queue.flush();
    },
    async close() {
      closed = true;
      await queue.flush();
    },
    get pending() {
      return queue.pending;
    },
    get blocked() {
      return queue.blocked;
    },
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RiverlogError('INVALID_OPTION', `createProducer: ${name} must be a whole number ≥ 1, got ${describe(value)}.`);
  }
  return value;
}

/** A value for a message: numbers as written (NaN, Infinity), text quoted, objects by kind. */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** Says which item of an emitMany call was refused, keeping the error's class and code. */
function atItem(error: unknown, index: number, count: number): unknown {
  if (error instanceof Error) error.message = `emitMany: items[${index}] (of ${count}) refused, so none was written: ${error.message}`;
  return error;
}
