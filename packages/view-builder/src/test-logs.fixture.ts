// Logs and stores that misbehave on purpose, for this package's tests.
import type { EventLog, LogRecord, ReadBatch, ViewStore } from '@riverlog/core';

/** The log with each record of every read batch passed through `map`. */
export function withRecords(inner: EventLog, map: (record: LogRecord) => LogRecord): EventLog {
  return {
    uri: inner.uri,
    maxEventBytes: inner.maxEventBytes,
    append: (events) => inner.append(events),
    partitions: () => inner.partitions(),
    close: () => inner.close(),
    read: (options) => mapBatches(inner.read(options), (batch) => ({ ...batch, records: batch.records.map(map) })),
  };
}

async function* mapBatches(batches: AsyncIterable<ReadBatch>, map: (batch: ReadBatch) => ReadBatch): AsyncGenerator<ReadBatch> {
  for await (const batch of batches) yield map(batch);
}

/** The prefix that makes {@link duplicating} read an event's id as the id after it: `dup:<id>` (or `dup:dup:<id>`) reads as `<id>`. */
export const DUPLICATE = 'dup:';

/**
 * The log as a producer that retried after an ambiguous failure leaves it:
 * an event appended with id `dup:<id>` is read with id `<id>`, the same id
 * at a second position (the memory log itself refuses a second copy of an id).
 */
export function duplicating(inner: EventLog): EventLog {
  return withRecords(inner, (record) => {
    const event = record.event as { id?: unknown } | undefined;
    if (typeof event?.id !== 'string' || !event.id.startsWith(DUPLICATE)) return record;
    let id = event.id;
    while (id.startsWith(DUPLICATE)) id = id.slice(DUPLICATE.length);
    return { ...record, event: { ...event, id } };
  });
}

/** The store with every call failing ('store unavailable') while `fails(method)` says so. */
export function failing(inner: ViewStore, fails: (method: string) => boolean): ViewStore {
  const wrapped: Record<string, unknown> = { limits: inner.limits };
  for (const method of [
    'createTable',
    'get',
    'rows',
    'list',
    'positions',
    'seen',
    'commit',
    'alias',
    'setAlias',
    'drop',
    'close',
  ] as const) {
    wrapped[method] = async (...args: unknown[]) => {
      if (fails(method)) throw new Error(`store unavailable (${method})`);
      return (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return wrapped as unknown as ViewStore;
}
