import {
  type Catalog,
  compareOffsets,
  type EventOf,
  isGroupSubscribable,
  LeaseBalancer,
  type LogRecord,
  RiverlogError,
  waitForChange,
} from '@riverlog/core';
import { CheckpointWriter } from './checkpoint-writer.js';
import { GroupMember } from './group-member.js';
import { validateHandlers } from './handlers.js';
import { hookEmitter } from './hooks.js';
import { resolveLeaseOptions } from './lease-options.js';
import { PartitionWorker } from './partition-worker.js';
import { type RecordRunnerOptions, runRecord } from './record-runner.js';
import { resolveRetryPolicy } from './retry.js';
import type { Consumer, ConsumerOptions, HandlerContext, PartitionStopReason } from './types.js';

/**
 * Subscribes a consumer group to a log: every record of every partition (or
 * of the partitions it holds leases for) is decoded against the catalog and
 * handed to the handler of its type, strictly in order within a partition,
 * partitions in parallel. Delivery is at-least-once: checkpoints move only
 * past finished records. A handler that keeps failing past the retry policy,
 * a record that does not decode and (by default) a type the catalog does not
 * know go to the dead-letter sink before the checkpoint passes them; the
 * partition moves on.
 *
 * @example
 * const consumer = createConsumer({
 *   log,
 *   catalog,
 *   group: 'photo-assignment',
 *   checkpoints: sqliteCheckpointStore('retail.db'),
 *   deadLetter: logDeadLetters(deadLetterLog),
 *   handlers: {
 *     'product/create': async (event, { position }) => assignPhotographer(event.data.id, position),
 *     'product/image': async (event) => completeAssignment(event.data.id),
 *     'product/purchase': ignore,
 *   },
 * });
 * await consumer.start();
 * // ... on shutdown:
 * await consumer.stop();
 */
export function createConsumer<C extends Catalog>(options: ConsumerOptions<C>): Consumer {
  const where = `createConsumer (group ${JSON.stringify(options.group)})`;
  if (typeof options.group !== 'string' || options.group.length === 0) {
    throw new RiverlogError('INVALID_OPTION', 'createConsumer: group must be a non-empty string, e.g. "photo-assignment".');
  }
  validateHandlers(options.catalog, options.handlers as Record<string, unknown>, where);
  const everyRecords = options.checkpointEvery?.records ?? 5000;
  const everyMs = options.checkpointEvery?.ms ?? 1000;
  if (!Number.isInteger(everyRecords) || everyRecords < 1) {
    throw new RiverlogError('INVALID_OPTION', `${where}: checkpointEvery.records must be a whole number ≥ 1, got ${everyRecords}.`);
  }
  if (!(everyMs > 0)) throw new RiverlogError('INVALID_OPTION', `${where}: checkpointEvery.ms must be > 0, got ${everyMs}.`);

  const { log, catalog, group, checkpoints } = options;
  const retry = resolveRetryPolicy(options.retry, where);
  const readRetry = resolveRetryPolicy({ initialDelayMs: 100, maxDelayMs: 5000 }, where);
  const progress = new EventTarget();
  const workers = new Map<string, PartitionWorker>();
  const ending = new Map<string, Promise<void>>();
  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let starting: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;

  const { emit, reportError } = hookEmitter<EventOf<C>>(options.hooks);

  // Progress wakes drain(); records finish thousands per tick, so one wake-up per tick is enough.
  let progressQueued = false;
  const changed = () => {
    if (progressQueued) return;
    progressQueued = true;
    setImmediate(() => {
      progressQueued = false;
      progress.dispatchEvent(new Event('progress'));
    });
  };

  const writer = new CheckpointWriter({
    store: checkpoints,
    group,
    everyRecords,
    everyMs,
    onWritten: (positions) => emit('onCheckpoint', { positions }),
    onError: (error) => reportError(error, 'checkpoint'),
  });

  // Leases share the partitions with the group's other processes; a surplus partition is handed back
  // after its in-flight record and its checkpoint, a lost one is stopped without writing its checkpoint.
  const balancer = options.leases
    ? new LeaseBalancer({
        ...resolveLeaseOptions(options.leases),
        group,
        partitions: () => log.partitions(),
        acquired: startPartition,
        lost: (partition) => stopPartition(partition, 'lease-lost'),
        handBack: (partition) => stopPartition(partition, 'rebalanced'),
        onError: (error, partition) => reportError(error, 'lease', partition),
      })
    : undefined;

  const runnerOptions: RecordRunnerOptions<C, HandlerContext> = {
    catalog,
    handlers: options.handlers as unknown as RecordRunnerOptions<C, HandlerContext>['handlers'],
    unknownTypes: options.unknownTypes ?? 'dead-letter',
    retry,
    group,
    deadLetter: options.deadLetter,
    whenExhausted: 'dead-letter',
    whenSinkFails: 'retry',
    context: (base) => base,
    emit,
    timeHandlers: options.hooks?.onHandled !== undefined,
    reportError,
  };

  // With these options a record is never 'failed': it ends in the handler or the dead letter, or is abandoned on stop.
  const processRecord = (record: LogRecord, signal: AbortSignal) => runRecord(record, signal, runnerOptions);

  // A log that runs consumer groups itself (Kafka) assigns the partitions when no leases are given.
  const member =
    !options.leases && isGroupSubscribable(log)
      ? new GroupMember({
          log,
          group,
          checkpoints,
          from: options.from ?? 'earliest',
          writer,
          process: processRecord,
          changed,
          onPartitionStart: (partition, after) => emit('onPartitionStart', { partition, after }),
          onPartitionStop: (partition, reason) => emit('onPartitionStop', { partition, reason }),
          onError: (error, partition) => reportError(error, 'read', partition),
        })
      : undefined;

  function startWorker(partition: string): void {
    if (state === 'stopping' || state === 'stopped' || workers.has(partition)) return;
    const worker: PartitionWorker = new PartitionWorker({
      log,
      partition,
      maxBatch: options.maxBatch,
      readRetry,
      start: async () => {
        const after = (await checkpoints.load(group))[partition];
        if (after !== undefined || options.from !== 'latest') return after;
        return (await log.heads())[partition];
      },
      process: processRecord,
      finished: (record) => {
        writer.finished(record.position);
        changed();
      },
      mayContinue: balancer ? () => balancer.holds(partition) : () => true,
      onStarted: (after) => {
        emit('onPartitionStart', { partition, after });
        changed();
      },
      onError: (error) => reportError(error, 'read', partition),
    });
    workers.set(partition, worker);
    void worker.run().then(() => {
      // A worker that ends without being stopped ran out of lease time.
      if (workers.get(partition) === worker) {
        workers.delete(partition);
        writer.forget(partition);
        emit('onPartitionStop', { partition, reason: 'lease-lost' });
      }
      changed();
    });
  }

  function startPartition(partition: string): void {
    const previous = ending.get(partition);
    if (!previous) {
      startWorker(partition);
      return;
    }
    void previous
      .catch(() => {})
      .then(() => {
        if (balancer?.holds(partition) ?? true) startWorker(partition);
      });
  }

  async function stopPartition(partition: string, reason: PartitionStopReason): Promise<void> {
    const worker = workers.get(partition);
    if (!worker) return ending.get(partition);
    workers.delete(partition);
    const done = (async () => {
      await worker.stop();
      emit('onPartitionStop', { partition, reason });
      changed();
      // Handed back, its checkpoint is written first; lost, the new owner's must not be overwritten.
      if (reason === 'lease-lost') writer.forget(partition);
      else await writer.flush();
    })();
    ending.set(partition, done);
    try {
      await done;
    } finally {
      if (ending.get(partition) === done) ending.delete(partition);
    }
  }

  async function shutdown(): Promise<void> {
    // A start() under way finishes first, so nothing it takes is left behind.
    await starting?.catch(() => {});
    state = 'stopping';
    await member?.stop();
    await balancer?.halt();
    const results = await Promise.allSettled([...workers.keys()].map((partition) => stopPartition(partition, 'stopped')));
    await Promise.allSettled(ending.values());
    try {
      await writer.close();
    } finally {
      await balancer?.stop();
      state = 'stopped';
      changed();
    }
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  return {
    group,
    start() {
      if (state !== 'new') {
        return Promise.reject(
          new RiverlogError('INVALID_STATE', `${where}: start() was already called; create a new consumer to start again.`),
        );
      }
      state = 'starting';
      starting = (async () => {
        const partitions = await log.partitions();
        writer.start();
        if (member) await member.start();
        else if (balancer) await balancer.start();
        else for (const partition of partitions) startWorker(partition);
        if (state === 'starting') state = 'running';
      })();
      return starting;
    },
    stop() {
      if (state === 'new') state = 'stopped';
      stopped ??= shutdown();
      return stopped;
    },
    async drain(drainOptions = {}) {
      if (state !== 'running') {
        throw new RiverlogError('INVALID_STATE', `${where}: drain() needs a running consumer; it is ${state}.`);
      }
      const heads = await log.heads();
      const { timeoutMs } = drainOptions;
      const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
      for (;;) {
        const behind = [...workers.values(), ...(member?.tracked() ?? [])].filter((worker) => {
          const head = heads[worker.partition];
          if (head === undefined) return false;
          return !worker.started || worker.finishedOffset === undefined || compareOffsets(worker.finishedOffset, head) < 0;
        });
        if (behind.length === 0) {
          await writer.flush();
          return;
        }
        if (signal?.aborted || state !== 'running') {
          const list = behind
            .map(
              (worker) => `partition ${worker.partition} (finished ${worker.finishedOffset ?? 'nothing'}, head ${heads[worker.partition]})`,
            )
            .join(', ');
          const why = state !== 'running' ? `the consumer is ${state}` : `${timeoutMs} ms passed`;
          throw new RiverlogError(
            'DRAIN_TIMEOUT',
            `${where}: drain() gave up because ${why}; still behind on ${list}. Is a handler stuck?`,
          );
        }
        await waitForChange(progress, 'progress', signal);
      }
    },
    async lag() {
      const [partitions, heads, stored] = await Promise.all([log.partitions(), log.heads(), checkpoints.load(group)]);
      const lag: Record<string, number> = {};
      for (const partition of partitions) {
        const head = heads[partition];
        const checkpoint = stored[partition];
        if (head === undefined) lag[partition] = 0;
        else lag[partition] = Number(BigInt(head) - (checkpoint === undefined ? -1n : BigInt(checkpoint)));
      }
      return lag;
    },
    assigned() {
      const partitions = member ? member.tracked().map((p) => p.partition) : [...workers.keys()];
      return partitions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    },
  };
}
