import { assertEnvelopeFits, type Envelope, envelopeText, invalidEnvelope } from '../envelope.js';
import { ClosedError, RiverlogError } from '../errors.js';
import { checkOptions } from '../options.js';
import type { EventLog, LogRecord, PartitionInfo, ReadBatch, ReadOptions } from '../ports.js';
import { type Position, partitionForSubject } from '../position.js';
import { checkReadOptions, type PartitionStart, resolveStart, waitForChange } from '../read-helpers.js';

/** An event as a durable log keeps it: its JSON text, parsed afresh for every read. */
interface StoredEvent {
  readonly text: string;
  readonly type: string;
  readonly appendedAt: number;
}

/**
 * The subject hashes a partition takes: those with `hash % modulus === residue`.
 * A split halves a class (modulus doubles); a merge unites two partitions' classes.
 */
interface HashClass {
  readonly modulus: number;
  readonly residue: number;
}

interface MemoryPartition {
  readonly id: string;
  readonly parents: readonly string[];
  readonly classes: readonly HashClass[];
  readonly stored: StoredEvent[];
  closed: boolean;
}

export interface MemoryLogOptions {
  /** Default 4. */
  readonly partitions?: number;
  /** Default 1 MiB, as Kinesis and Kafka's defaults. */
  readonly maxEventBytes?: number;
}

/**
 * The memory log: an {@link EventLog} whose partitions can also be split and
 * merged, as Kinesis shards are, so lineage can be tested on every reader.
 */
export interface MemoryLog extends EventLog {
  /**
   * Closes an open partition and opens two children that take its subjects
   * (half each); resolves with the children. The parent keeps its records and
   * a read of it ends with `ended`.
   *
   * @example
   * const [left, right] = await log.split('1'); // partitions '4' and '5', each with parents ['1']
   */
  split(partition: string): Promise<PartitionInfo[]>;
  /**
   * Closes two open partitions and opens one child that takes the subjects
   * of both; resolves with the child.
   *
   * @example
   * const child = await log.merge('2', '3'); // { id: '6', parents: ['2', '3'], closed: false }
   */
  merge(a: string, b: string): Promise<PartitionInfo>;
}

/**
 * An in-process log for tests and examples: the same semantics as the
 * SQLite log, nothing kept after the process ends. Duplicate ids are
 * recognised for the whole life of the log. Partitions start as `'0'` to
 * `'<partitions - 1>'`, a subject in the partition `partitionForSubject`
 * gives it (as the SQLite log); `split` and `merge` add partitions numbered on
 * from there, and subjects move only from a parent to its child, so
 * per-subject order holds for readers that finish parents first.
 *
 * @example
 * const log = memoryLog({ partitions: 2 });
 * await log.append([createEvent(catalog, 'user-info/login', 'u1', { id: 'u1', name: 'Ann' }, { source: 'web' })]);
 */
export function memoryLog(options: MemoryLogOptions = {}): MemoryLog {
  checkOptions('memoryLog', options, ['partitions', 'maxEventBytes']);
  const partitionCount = options.partitions ?? 4;
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RiverlogError('INVALID_OPTION', `memoryLog: partitions must be a whole number ≥ 1, got ${partitionCount}.`);
  }
  const maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
  const partitions = new Map<string, MemoryPartition>();
  for (let i = 0; i < partitionCount; i++) {
    partitions.set(String(i), {
      id: String(i),
      parents: [],
      classes: [{ modulus: partitionCount, residue: i }],
      stored: [],
      closed: false,
    });
  }
  let open = [...partitions.values()];
  const byId = new Map<string, Position>();
  const changed = new EventTarget();
  let closed = false;
  let lastAppendedAt = 0;

  function ensureOpen(): void {
    if (closed) throw new ClosedError('memory log');
  }

  /** The open partition that takes a subject. While nothing was resharded, the one `partitionForSubject` gives. */
  function partitionOf(subject: string): MemoryPartition {
    if (open.length === partitionCount && partitions.size === partitionCount) {
      return open[partitionForSubject(subject, partitionCount)] as MemoryPartition;
    }
    const hash = partitionForSubject(subject, 2 ** 32);
    for (const partition of open) {
      for (const { modulus, residue } of partition.classes) if (hash % modulus === residue) return partition;
    }
    throw new Error(`memory log: no open partition takes subject ${JSON.stringify(subject)} (a bug).`);
  }

  function openPartition(name: string, id: string, action: string): MemoryPartition {
    const partition = partitions.get(id);
    if (!partition) {
      throw new RiverlogError(
        'UNKNOWN_PARTITION',
        `memory log: ${action} names partition ${JSON.stringify(id)}, which ${name} does not have.`,
      );
    }
    if (partition.closed) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `memory log: ${action}: partition ${id} is closed already; split or merge open partitions only.`,
      );
    }
    return partition;
  }

  function addChild(parents: readonly string[], classes: readonly HashClass[]): MemoryPartition {
    const child: MemoryPartition = { id: String(partitions.size), parents, classes, stored: [], closed: false };
    partitions.set(child.id, child);
    return child;
  }

  function reshaped(): void {
    open = [...partitions.values()].filter((partition) => !partition.closed);
    changed.dispatchEvent(new Event('append'));
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
        const partition = partitionOf(event.subject);
        const position = { partition: partition.id, offset: String(partition.stored.length) };
        // Kept as text, as a durable log keeps it: later changes to the caller's object do not reach the log,
        // a Date in data reads back as its ISO text, and no reader sees another reader's changes.
        partition.stored.push({ text: texts[i] as string, type: event.type, appendedAt: lastAppendedAt });
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
      return [...partitions.values()].map(info);
    },
    async split(id) {
      ensureOpen();
      const parent = openPartition('the log', id, `split(${JSON.stringify(id)})`);
      parent.closed = true;
      const children = [
        addChild(
          [id],
          parent.classes.map(({ modulus, residue }) => ({ modulus: modulus * 2, residue })),
        ),
        addChild(
          [id],
          parent.classes.map(({ modulus, residue }) => ({ modulus: modulus * 2, residue: residue + modulus })),
        ),
      ];
      reshaped();
      return children.map(info);
    },
    async merge(a, b) {
      ensureOpen();
      const action = `merge(${JSON.stringify(a)}, ${JSON.stringify(b)})`;
      if (a === b) throw new RiverlogError('INVALID_OPTION', `memory log: ${action}: merge two different partitions.`);
      const first = openPartition('the log', a, action);
      const second = openPartition('the log', b, action);
      first.closed = true;
      second.closed = true;
      const child = addChild([a, b], [...first.classes, ...second.classes]);
      reshaped();
      return info(child);
    },
    async close() {
      closed = true;
      changed.dispatchEvent(new Event('append'));
    },
  };

  async function* readMemory(readOptions: ReadOptions): AsyncGenerator<ReadBatch> {
    const { partitions: wanted, batchSize } = checkReadOptions(readOptions, { name: 'memory log', partitions: [...partitions.keys()] });
    const types = readOptions.types ? new Set(readOptions.types) : undefined;
    const cursors = wanted.map((id) => {
      const partition = partitions.get(id) as MemoryPartition;
      const start = resolveStart(readOptions.from, id);
      // A partition checkpointed as read to its end yields one empty ended batch, closed or not.
      return { partition, index: startIndex(partition, start), reported: false, done: false, finished: start.kind === 'end' };
    });
    for (;;) {
      let moved = false;
      for (const cursor of cursors) {
        const { partition } = cursor;
        // Without follow, a partition is read up to its first caught-up batch.
        if (cursor.reported && !readOptions.follow) continue;
        while (!cursor.done) {
          if (readOptions.signal?.aborted || closed) return;
          if (cursor.finished) {
            cursor.done = true;
            moved = true;
            yield { partition: partition.id, records: [], caughtUp: true, ended: true, lag: { records: 0 } };
            break;
          }
          const { stored } = partition;
          if (cursor.index >= stored.length && cursor.reported && !partition.closed) break;
          const records: LogRecord[] = [];
          let index = cursor.index;
          while (index < stored.length && records.length < batchSize) {
            const item = stored[index] as StoredEvent;
            if (!types || types.has(item.type)) {
              records.push({
                position: { partition: partition.id, offset: String(index) },
                event: JSON.parse(item.text),
                storedAt: item.appendedAt,
              });
            }
            index++;
          }
          cursor.index = index;
          const caughtUp = cursor.index >= stored.length;
          const ended = caughtUp && partition.closed;
          cursor.reported = caughtUp;
          cursor.done = ended;
          moved = true;
          yield { partition: partition.id, records, caughtUp, ended, lag: { records: Math.max(0, stored.length - cursor.index) } };
          break; // One batch per partition in turn, so a partition with a backlog cannot starve the others.
        }
      }
      if (cursors.every((cursor) => cursor.done || (cursor.reported && !readOptions.follow))) return;
      if (readOptions.signal?.aborted || closed) return;
      if (!moved) await waitForChange(changed, 'append', readOptions.signal);
    }
  }

  function startIndex(partition: MemoryPartition, start: PartitionStart): number {
    const { stored } = partition;
    switch (start.kind) {
      case 'earliest':
        return 0;
      case 'latest':
      case 'end':
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

function info(partition: MemoryPartition): PartitionInfo {
  return { id: partition.id, parents: [...partition.parents], closed: partition.closed };
}
