import type { EventLog, LogRecord, PartitionInfo, ReadBatch, ReadOptions, StoredEvent } from '@riverlog/core';
import { ClosedError, compareOffsets } from '@riverlog/core';

/** One delivery of a script: an event at a position, delivered as its own batch. */
export interface Delivery {
  /** The event's number among those given (from 1). */
  readonly number: number;
  readonly event: StoredEvent;
  readonly partition: string;
  readonly offset: string;
  /** Why it is delivered again: at the position it had (`same-position`), or appended again at a later one (`new-position`). */
  readonly again?: 'same-position' | 'new-position';
}

/**
 * A log that delivers exactly the deliveries of a script, in the script's
 * order across partitions, each as one batch: what a spec needs to make
 * `runView` see one order of partitions and not another, and records
 * delivered twice. The memory log cannot do either: it refuses an id it
 * holds already (an append returns the first position), and its reads
 * interleave partitions by batch in a fixed order. Within a partition the
 * script's offsets never go down; a read `after` an offset starts at the
 * first delivery beyond it (a delivery again at the same position is the
 * one just read, not read again after a restart).
 */
export function scriptedLog(deliveries: readonly Delivery[], partitions: readonly string[]): EventLog {
  let closed = false;
  const closing = new AbortController();

  async function* read(options: ReadOptions = {}): AsyncGenerator<ReadBatch> {
    const wanted = options.partitions ?? partitions;
    const types = options.types ? new Set(options.types) : undefined;
    const from = options.from ?? 'earliest';
    const after: Readonly<Record<string, string>> = typeof from === 'object' && 'after' in from ? from.after : {};
    const at: Readonly<Record<string, string>> = typeof from === 'object' && 'at' in from ? from.at : {};
    const included = (delivery: Delivery) => {
      const since = after[delivery.partition];
      if (since !== undefined && compareOffsets(delivery.offset, since) <= 0) return false;
      const start = at[delivery.partition];
      return start === undefined || compareOffsets(delivery.offset, start) >= 0;
    };
    // Each partition's last delivery to this read: its batch is the caught-up one.
    const last = new Map<string, number>();
    deliveries.forEach((delivery, index) => {
      if (wanted.includes(delivery.partition) && included(delivery)) last.set(delivery.partition, index);
    });
    for (const partition of wanted) {
      if (!last.has(partition)) yield { partition, records: [], caughtUp: true, ended: false, lag: { records: 0 } };
    }
    for (const [index, delivery] of deliveries.entries()) {
      if (closed || options.signal?.aborted) return;
      if (!last.has(delivery.partition) || !included(delivery)) continue;
      const caughtUp = last.get(delivery.partition) === index;
      const record: LogRecord = {
        position: { partition: delivery.partition, offset: delivery.offset },
        // A fresh copy per read, as a durable log parses its bytes afresh: a view cannot change what the next run sees.
        event: JSON.parse(JSON.stringify(delivery.event)),
      };
      const records = types && !types.has(delivery.event.type) ? [] : [record];
      const behind = deliveries.slice(index + 1).filter((d) => d.partition === delivery.partition).length;
      yield { partition: delivery.partition, records, caughtUp, ended: false, lag: { records: behind } };
    }
    if (!options.follow) return;
    // Following: nothing more comes; wait until the reader stops.
    await new Promise<void>((resolve) => {
      if (closed || options.signal?.aborted) return resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
      closing.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  return {
    uri: 'scripted:',
    maxEventBytes: 1024 * 1024,
    async append() {
      throw new Error('scripted log: the spec delivers the events it was given; it takes no appends.');
    },
    read(options) {
      if (closed) throw new ClosedError('scripted log');
      return read(options);
    },
    async partitions(): Promise<PartitionInfo[]> {
      if (closed) throw new ClosedError('scripted log');
      return partitions.map((id) => ({ id, parents: [], closed: false }));
    },
    async close() {
      closed = true;
      closing.abort();
    },
  };
}
