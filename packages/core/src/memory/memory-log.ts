import { assertEnvelopeFits, type Envelope, envelopeText, invalidEnvelope } from '../envelope.js';
import { ClosedError, RiverlogError } from '../errors.js';
import type { EventLog, LogRecord, ReadOptions } from '../ports.js';
import { type Position, partitionForSubject } from '../position.js';
import { checkReadOptions, resolveStart, waitForChange } from '../read-helpers.js';

/** An event as a durable log keeps it: its JSON text, parsed afresh for every read. */
interface StoredEvent {
  readonly text: string;
  readonly type: string;
  readonly appendedAt: number;
}

export interface MemoryLogOptions {
  /** Default 4. */
  readonly partitions?: number;
  /** Default 1 MiB, as Kinesis and Kafka's defaults. */
  readonly maxEventBytes?: number;
}

/**
 * An in-process log for tests and examples: the same semantics as the
 * SQLite log, nothing kept after the process ends. Duplicate ids are
 * recognised for the whole life of the log.
 *
 * @example
 * const log = memoryLog({ partitions: 2 });
 * await log.append([catalog.create('user-info/login', 'u1', { id: 'u1', name: 'Ann' }, { source: 'web' })]);
 */
export function memoryLog(options: MemoryLogOptions = {}): EventLog {
  const partitionCount = options.partitions ?? 4;
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RiverlogError('INVALID_OPTION', `memoryLog: partitions must be a whole number ≥ 1, got ${partitionCount}.`);
  }
  const maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
  const partitions: StoredEvent[][] = Array.from({ length: partitionCount }, () => []);
  const partitionIds = partitions.map((_, i) => String(i));
  const byId = new Map<string, Position>();
  const changed = new EventTarget();
  let closed = false;
  let lastAppendedAt = 0;

  function ensureOpen(): void {
    if (closed) throw new ClosedError('memory log');
  }

  return {
    uri: 'memory:',
    maxEventBytes,
    async append(events) {
      ensureOpen();
      // Every event is checked before any is stored: a refused call leaves nothing behind.
      const texts = new Array<string>(events.length);
      for (let i = 0; i < events.length; i++) {
        const event = events[i] as Envelope;
        const invalid = invalidEnvelope(event, i);
        if (invalid) throw invalid;
        const text = envelopeText(event);
        assertEnvelopeFits(event, text, maxEventBytes);
        texts[i] = text;
      }
      lastAppendedAt = Math.max(lastAppendedAt, Date.now());
      const positions = events.map((event, i) => {
        const existing = byId.get(event.id);
        if (existing) return existing;
        const partition = partitionForSubject(event.subject, partitionCount);
        const stored = partitions[partition] as StoredEvent[];
        const position = { partition: String(partition), offset: String(stored.length) };
        // Kept as text, as a durable log keeps it: later changes to the caller's object do not reach the log,
        // a Date in data reads back as its ISO text, and no reader sees another reader's changes.
        stored.push({ text: texts[i] as string, type: event.type, appendedAt: lastAppendedAt });
        byId.set(event.id, position);
        return position;
      });
      changed.dispatchEvent(new Event('append'));
      return positions;
    },
    read(readOptions: ReadOptions = {}) {
      ensureOpen();
      return readMemory(readOptions);
    },
    async partitions() {
      ensureOpen();
      return [...partitionIds];
    },
    async heads() {
      ensureOpen();
      const heads: Record<string, string> = {};
      partitions.forEach((stored, i) => {
        if (stored.length > 0) heads[String(i)] = String(stored.length - 1);
      });
      return heads;
    },
    async close() {
      closed = true;
      changed.dispatchEvent(new Event('append'));
    },
  };

  async function* readMemory(readOptions: ReadOptions): AsyncGenerator<LogRecord[]> {
    const { partitions: wanted, maxBatch } = checkReadOptions(readOptions, { name: 'memory log', partitions: partitionIds });
    const types = readOptions.types ? new Set(readOptions.types) : undefined;
    const next = new Map<string, number>();
    for (const id of wanted) next.set(id, startIndex(partitions[Number(id)] as StoredEvent[], id, readOptions));
    for (;;) {
      let yielded = false;
      for (const id of wanted) {
        const stored = partitions[Number(id)] as StoredEvent[];
        let index = next.get(id) as number;
        while (index < stored.length) {
          if (readOptions.signal?.aborted || closed) return;
          const batch: LogRecord[] = [];
          while (index < stored.length && batch.length < maxBatch) {
            const item = stored[index] as StoredEvent;
            if (!types || types.has(item.type)) {
              batch.push({ position: { partition: id, offset: String(index) }, event: JSON.parse(item.text) });
            }
            index++;
          }
          next.set(id, index);
          if (batch.length > 0) {
            yielded = true;
            yield batch;
          }
        }
      }
      if (!readOptions.follow || readOptions.signal?.aborted || closed) return;
      if (!yielded) await waitForChange(changed, 'append', readOptions.signal);
    }
  }

  function startIndex(stored: StoredEvent[], partition: string, readOptions: ReadOptions): number {
    const start = resolveStart(readOptions.from, partition);
    switch (start.kind) {
      case 'earliest':
        return 0;
      case 'latest':
        return stored.length;
      case 'after':
        return Number(start.offset) + 1;
      case 'at':
        return Number(start.offset);
      case 'time': {
        let low = 0;
        let high = stored.length;
        while (low < high) {
          const mid = (low + high) >>> 1;
          if ((stored[mid] as StoredEvent).appendedAt < start.time) low = mid + 1;
          else high = mid;
        }
        return low;
      }
    }
  }
}
