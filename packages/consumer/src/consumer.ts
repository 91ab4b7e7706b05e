import {
  type Catalog,
  type CheckpointStore,
  type EventOf,
  type Lag,
  type LogRecord,
  PARTITION_END,
  type PositionMap,
  RiverlogError,
  readEnds,
  retryForever,
} from '@riverlog/core';
import {
  type AssignmentHooks,
  LeaseBalancer,
  LocalAssignment,
  type PartitionAssignment,
  readyPartitions,
  waitForChange,
} from '@riverlog/core/backend';
import { CheckpointWriter } from './checkpoint-writer.js';
import { GroupMember } from './group-member.js';
import { hookEmitter } from './hooks.js';
import { resolveOptions } from './options.js';
import { type PartitionProgress, PartitionWorker, reached } from './partition-worker.js';
import { type RecordRunnerOptions, runRecord } from './record-runner.js';
import { RetryBoard } from './retry-board.js';
import type {
  CaughtUpOptions,
  Consumer,
  ConsumerOptions,
  ConsumerStatus,
  HandlerContext,
  PartitionStatus,
  PartitionStopReason,
  RetryInfo,
  TransientRetry,
} from './types.js';

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const isLeaseLost = (error: unknown) => error instanceof RiverlogError && error.code === 'LEASE_LOST';
/** Why a `caughtUp()` signal aborted: its `timeoutMs` ran out (a timeout signal's reason), or the caller's signal. */
const why = (signal: AbortSignal) =>
  signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError' ? 'its time ran out' : 'its signal was aborted';

/**
 * Subscribes a consumer group to a log: every record of every partition (or
 * of the partitions it holds leases for) is decoded against the catalog and
 * handed to the handler of its type, strictly in order within a partition,
 * partitions in parallel, parents before children. Delivery is
 * at-least-once: checkpoints move only past finished records, and every
 * checkpoint write carries the partition's fence, so a process that lost a
 * partition can never move it. A handler that keeps failing past `retry`,
 * a record that is not an envelope and (by default) a type the catalog does
 * not know go to the dead letters before the checkpoint passes them; an
 * event the catalog cannot read yet stops its partition (or is dead-lettered
 * with `onUnreadable: 'dead-letter'`).
 *
 * @example
 * const consumer = createConsumer({
 *   log,
 *   catalog,
 *   group: 'photo-assignment',
 *   checkpoints: sqliteCheckpointStore({ path: 'retail.db' }),
 *   deadLetters: logDeadLetters(deadLetterLog),
 *   handlers: {
 *     'product/create': async (event, { position }) => assignPhotographer(event.data.id, position),
 *     'product/image': async (event) => completeAssignment(event.data.id),
 *     'product/purchase': ignore,
 *   },
 * });
 * await consumer.start();
 * await consumer.caughtUp();
 * // ... on shutdown:
 * await consumer.stop();
 */
export function createConsumer<C extends Catalog>(options: ConsumerOptions<C>): Consumer {
  const resolved = resolveOptions(options);
  const { where, mode, transient } = resolved;
  const { log, catalog, group } = options;
  const store = resolved.checkpoints;
  const progress = new EventTarget();
  const board = new RetryBoard();
  const workers = new Map<string, PartitionWorker>();
  /** Workers that are ending (handed back or lost): a partition taken again waits for its last one. */
  const ending = new Map<string, Promise<void>>();
  /** Partitions whose progress may be written: being worked on, or stopped by us (not lost, not handed back). */
  const writable = new Set<string>();
  /** Partitions read to their end (checkpoint `PARTITION_END`), by us or, as the store says, by others. */
  const ended = new Set<string>();
  /** Partitions this consumer read to their end. */
  const endedHere = new Set<string>();
  let listedAtStart: Set<string> | undefined;
  let state: ConsumerStatus['state'] = 'new';
  let starting: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;

  const { emit, reportError } = hookEmitter<EventOf<C>>(options.hooks);
  const retrying = (info: RetryInfo<EventOf<C>>) => {
    board.failed(info);
    emit('onRetry', info);
  };
  const recovered = (stage: RetryInfo['stage'], partition?: string) => board.recovered(stage, partition);

  // Progress wakes caughtUp(); records finish thousands per tick, so one wake-up per tick is enough.
  let progressQueued = false;
  const changed = () => {
    if (progressQueued) return;
    progressQueued = true;
    setImmediate(() => {
      progressQueued = false;
      progress.dispatchEvent(new Event('progress'));
    });
  };

  const hooks: AssignmentHooks = {
    acquired: (partition, epoch) => startPartition(partition, epoch),
    lost: (partition, epoch) => losePartition(partition, epoch),
    handBack: (partition) => stopPartition(partition, 'rebalanced'),
    onError: (error, partition) => reportError(error, 'lease', partition),
  };
  const assignment: PartitionAssignment | undefined =
    mode === 'leases' && resolved.leases
      ? new LeaseBalancer({
          store: resolved.leases.store,
          group,
          owner: resolved.leases.owner,
          ttlMs: resolved.leases.ttlMs,
          renewEveryMs: Math.max(10, Math.floor(resolved.leases.ttlMs / 3)),
          ...(resolved.leases.now ? { now: resolved.leases.now } : {}),
          partitions: readyList,
          ...hooks,
        })
      : mode === 'local'
        ? new LocalAssignment({ partitions: readyList, ...hooks })
        : undefined;

  const writer: CheckpointWriter | undefined = store
    ? new CheckpointWriter({
        store,
        group,
        everyRecords: resolved.everyRecords,
        everyMs: resolved.everyMs,
        policy: transient,
        fence: (partitions) => assignment?.fence(partitions) ?? {},
        mayWrite: (partition): boolean => (member ? member.holds(partition) : writable.has(partition)),
        onWritten: (positions) => emit('onCheckpoint', { positions }),
        onLeaseLost: (partition, epoch, error) => {
          reportError(error, 'checkpoint', partition);
          losePartition(partition, epoch, error);
        },
        onRetry: ({ attempt, error, delayMs }) => retrying({ stage: 'checkpoint', attempt, error, delayMs }),
        onRecovered: () => recovered('checkpoint'),
      })
    : undefined;

  const runnerOptions: RecordRunnerOptions<C, HandlerContext> = {
    catalog,
    handlers: options.handlers as unknown as RecordRunnerOptions<C, HandlerContext>['handlers'],
    unknownTypes: options.unknownTypes ?? 'dead-letter',
    onUnreadable: options.onUnreadable ?? 'stop',
    attempts: resolved.attempts,
    backoff: resolved.backoff,
    transient,
    group,
    deadLetters: options.deadLetters,
    whenExhausted: 'dead-letter',
    whenSinkFails: 'retry',
    context: (base) => base,
    emit,
    reportError,
    retrying,
    recovered,
    timeHandlers: options.hooks?.onHandled !== undefined,
  };
  const processRecord = (record: LogRecord, signal: AbortSignal) => runRecord(record, signal, runnerOptions);

  // A log that runs consumer groups itself (Kafka) assigns the partitions when no leases are given.
  const member: GroupMember | undefined =
    mode === 'group'
      ? new GroupMember({
          log: log as ConstructorParameters<typeof GroupMember>[0]['log'],
          group,
          checkpoints: store,
          writer,
          from: options.from ?? 'earliest',
          process: processRecord,
          changed,
          policy: transient,
          retrying,
          recovered: (partition) => recovered('checkpoint', partition),
          onPartitionStart: (partition, after) => emit('onPartitionStart', { partition, after, epoch: 0 }),
          onPartitionStop: (partition, reason, error) => {
            if (reason === 'unreadable') reportError(error, 'unreadable', partition);
            emit('onPartitionStop', error === undefined ? { partition, reason } : { partition, reason, error });
          },
          // What the log's own group survived and retries (a restart of its Kafka consumer, a failed batch or
          // commit): transient, so onRetry, not onError, which is for what waiting cannot fix.
          onError: (error, partition) =>
            emit('onRetry', { stage: 'read', ...(partition === undefined ? {} : { partition }), attempt: 1, error, delayMs: 0 }),
        })
      : undefined;

  /**
   * The partitions ready to be worked on: listed by the log, not read to their
   * end, every parent read to its end. The store is asked which partitions
   * others finished only while a listed child waits for a parent.
   */
  async function readyList(): Promise<string[]> {
    return (await lineage()).ready;
  }

  async function lineage(): Promise<{ ready: string[]; parents: Map<string, readonly string[]> }> {
    const partitions = await log.partitions();
    const listed = new Set(partitions.map((partition) => partition.id));
    const first = listedAtStart === undefined;
    listedAtStart ??= listed;
    const waiting = partitions.some(
      (partition) => !ended.has(partition.id) && partition.parents.some((parent) => listed.has(parent) && !ended.has(parent)),
    );
    if ((first || waiting) && store) {
      for (const [partition, offset] of Object.entries(await store.load(group))) if (offset === PARTITION_END) ended.add(partition);
    }
    const finished: Record<string, string> = {};
    for (const partition of ended) finished[partition] = PARTITION_END;
    return {
      ready: readyPartitions(partitions, finished),
      parents: new Map(partitions.map((partition) => [partition.id, partition.parents])),
    };
  }

  /**
   * Partitions that caughtUp() waits to see started: without leases, every
   * ready one this consumer has not started yet; with leases, the children of
   * partitions this consumer read to their end that no other process holds.
   */
  async function notStartedYet(): Promise<string[]> {
    if (mode === 'group') return [];
    const { ready, parents } = await lineage();
    const candidates = ready.filter((partition) => !workers.has(partition) && !ended.has(partition));
    if (mode === 'local' || candidates.length === 0 || !resolved.leases) return candidates;
    const children = candidates.filter((partition) => (parents.get(partition) ?? []).some((parent) => endedHere.has(parent)));
    if (children.length === 0) return [];
    const { owner } = resolved.leases;
    const held = await resolved.leases.store.list(group);
    return children.filter(
      (partition) => !held.some((lease) => lease.partition === partition && lease.owner !== undefined && lease.owner !== owner),
    );
  }

  /** Runs a store or log call until it succeeds (a stale fence is thrown at once), reporting each failure. */
  async function persist<T>(call: () => Promise<T>, stage: TransientRetry['stage'], partition: string, signal: AbortSignal): Promise<T> {
    let failed = false;
    try {
      return await retryForever(call, {
        policy: transient,
        signal,
        retryable: (error) => !isLeaseLost(error),
        onRetry: ({ attempt, error, delayMs }) => {
          failed = true;
          retrying({ stage, partition, attempt, error, delayMs });
        },
      });
    } finally {
      if (failed) recovered(stage, partition);
    }
  }

  /**
   * Claims a newly acquired partition (a write under its fence, so a late
   * write of its previous owner is refused from now on), then loads where it
   * resumes. With `from: 'latest'` and no checkpoint, a partition listed at
   * start resumes after its end now, saved as its checkpoint.
   */
  async function startPoint(partition: string, signal: AbortSignal): Promise<string | undefined> {
    const checkpoints = store as CheckpointStore;
    const fence = assignment?.fence([partition]) ?? {};
    const fenced = Object.keys(fence).length > 0;
    if (fenced) await persist(() => checkpoints.save(group, {}, fence), 'claim', partition, signal);
    const after = (await persist(() => checkpoints.load(group), 'claim', partition, signal))[partition];
    if (after !== undefined || options.from !== 'latest' || !listedAtStart?.has(partition)) return after;
    const end = (await persist(() => readEnds(log, [partition], {}, { signal }), 'read', partition, signal))[partition];
    if (end === undefined) return undefined;
    await persist(() => checkpoints.save(group, { [partition]: end }, fenced ? fence : undefined), 'claim', partition, signal);
    return end;
  }

  function startWorker(partition: string, epoch: number): void {
    if (state === 'stopping' || state === 'stopped' || workers.has(partition) || ended.has(partition)) return;
    const worker: PartitionWorker = new PartitionWorker({
      log,
      partition,
      epoch,
      batchSize: options.batchSize,
      start: (signal) => startPoint(partition, signal),
      process: processRecord,
      finished: (record) => {
        // A lost worker's in-flight record may finish after losePartition cleared its pending checkpoint:
        // writing it would move the checkpoint back if this process took the partition again.
        if (workers.get(partition) !== worker) return;
        writer?.finished(record.position);
        changed();
      },
      // Without leases a partition is only ever given up through stop(): no check per record.
      mayContinue: assignment && mode === 'leases' ? () => assignment.holds(partition) : () => true,
      onStarted: (after) => emit('onPartitionStart', { partition, after, epoch }),
      onEnded: () => endPartition(partition, worker),
      onStopped: (reason, error) => {
        if (reason === 'unreadable') {
          reportError(error, 'unreadable', partition);
          emit('onPartitionStop', { partition, reason, error });
        } else {
          // The claim or the start was refused: the partition is someone else's now.
          reportError(error, 'claim', partition);
          losePartition(partition, epoch, error);
        }
      },
      changed,
      policy: transient,
      retrying,
      recovered: (stage) => recovered(stage, partition),
    });
    workers.set(partition, worker);
    writable.add(partition);
    void worker.run();
  }

  /** A closed partition read to its end: its checkpoint becomes PARTITION_END, and its children may start. */
  async function endPartition(partition: string, worker: PartitionWorker): Promise<void> {
    writer?.ended(partition);
    try {
      await writer?.flush();
    } catch {
      return; // stopping before it was written: the next run reads its end again
    }
    if (workers.get(partition) !== worker) return; // lost meanwhile
    ended.add(partition);
    endedHere.add(partition);
    workers.delete(partition);
    writable.delete(partition);
    worker.gone = true;
    await assignment?.finished(partition);
    // Its children are ready now: a round at once, not at the assignment's next timer.
    void assignment?.refresh();
    emit('onPartitionStop', { partition, reason: 'ended' });
    changed();
  }

  function startPartition(partition: string, epoch: number): void {
    const previous = ending.get(partition);
    if (!previous) {
      startWorker(partition, epoch);
      return;
    }
    void previous.then(() => {
      if (assignment?.holds(partition) ?? true) startWorker(partition, epoch);
    });
  }

  /**
   * The partition's tenure under `epoch` (undefined: the one worked on now) is
   * no longer ours: stop it without waiting, and write nothing more for it. A
   * loss of an older tenure than the worker's — a checkpoint saved before this
   * process took the partition again, refused after — is ignored: stopping
   * the new worker would leave a lease renewed that nobody works under.
   */
  function losePartition(partition: string, epoch: number | undefined, error?: unknown): void {
    const worker = workers.get(partition);
    if (worker && epoch !== undefined && epoch < worker.epoch) return;
    writable.delete(partition);
    writer?.forget(partition);
    if (!worker) return;
    workers.delete(partition);
    worker.abort();
    for (const stage of ['handler', 'read', 'claim', 'dead-letter'] as const) board.recovered(stage, partition);
    emit('onPartitionStop', error === undefined ? { partition, reason: 'lease-lost' } : { partition, reason: 'lease-lost', error });
    changed();
    const done = worker.run().then(() => {
      if (ending.get(partition) === done) ending.delete(partition);
    });
    ending.set(partition, done);
  }

  /** Stops a partition after its in-flight record; handed back, its checkpoint is written while still ours. */
  async function stopPartition(partition: string, reason: PartitionStopReason): Promise<void> {
    const worker = workers.get(partition);
    if (!worker) return ending.get(partition);
    const done = (async () => {
      await worker.stop();
      if (reason !== 'stopped') {
        await writer?.flush().catch(() => {});
        writable.delete(partition);
      }
      if (workers.get(partition) === worker) workers.delete(partition);
      for (const stage of ['handler', 'read', 'claim', 'dead-letter'] as const) board.recovered(stage, partition);
      emit('onPartitionStop', { partition, reason });
      changed();
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
    changed();
    await member?.stop();
    await assignment?.halt();
    await Promise.allSettled([...workers.keys()].map((partition) => stopPartition(partition, 'stopped')));
    await Promise.allSettled(ending.values());
    try {
      await writer?.close();
    } finally {
      await assignment?.stop();
      state = 'stopped';
      changed();
    }
  }

  function progresses(): PartitionProgress[] {
    return member ? member.tracked() : [...workers.values()];
  }

  /** Waits until `done()` holds; rejects on a partition stopped as unreadable, a timeout, or a consumer that stops. */
  async function waitUntil(
    watched: readonly PartitionProgress[],
    done: () => boolean,
    behind: () => string,
    signal: AbortSignal | undefined,
    once = false,
  ): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      const unreadable = watched.find((entry) => entry.stopped?.reason === 'unreadable' && !entry.gone);
      if (unreadable) {
        const error = unreadable.stopped?.error as RiverlogError;
        throw new RiverlogError(
          error?.code ?? 'DECODE_FAILED',
          `${where}: caughtUp() cannot finish: partition ${unreadable.partition} stopped after offset ${unreadable.finished ?? '(none)'} on an event this catalog cannot read yet: ${error?.message}. Deploy a catalog that reads it, or use onUnreadable: 'dead-letter'.`,
          { cause: error },
        );
      }
      if (done() || (once && rounds > 0)) return;
      if (state !== 'running') {
        throw new RiverlogError('STOPPED', `${where}: caughtUp() ended because the consumer is ${state}; still behind on ${behind()}.`);
      }
      if (signal?.aborted) {
        throw new RiverlogError(
          'CAUGHT_UP_TIMEOUT',
          `${where}: caughtUp() gave up because ${why(signal)}; still behind on ${behind()}. Is a handler stuck?`,
        );
      }
      await waitForChange(progress, 'progress', signal);
    }
  }

  async function caughtUp(callOptions: CaughtUpOptions = {}): Promise<PositionMap> {
    if (state !== 'running') throw new RiverlogError('INVALID_STATE', `${where}: caughtUp() needs a running consumer; it is ${state}.`);
    const signals = [callOptions.signal, callOptions.timeoutMs === undefined ? undefined : AbortSignal.timeout(callOptions.timeoutMs)];
    const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
    const signal = present.length === 0 ? undefined : AbortSignal.any(present);
    const seen = new Map<string, PartitionProgress>();
    for (;;) {
      const fresh = progresses().filter((entry) => !seen.has(entry.partition) && !entry.gone);
      if (fresh.length === 0) {
        // A child made ready by a parent that ended is taken at the assignment's next round.
        const waiting = await notStartedYet();
        if (waiting.length > 0) {
          await waitUntil(
            [],
            () => false,
            () => `partitions ${waiting.join(', ')}, not started yet`,
            signal,
            true,
          );
          continue;
        }
        break;
      }
      const names = (list: readonly PartitionProgress[]) =>
        list.map((entry) => `partition ${entry.partition} (finished ${entry.finished ?? 'nothing'})`).join(', ');
      // Once each is at the end it had, finding where the log ends now reads little.
      await waitUntil(
        fresh,
        () => fresh.every((entry) => entry.gone || entry.caughtUp),
        () => names(fresh.filter((entry) => !entry.gone && !entry.caughtUp)),
        signal,
      );
      const live = fresh.filter((entry) => !entry.gone && entry.finished !== PARTITION_END);
      const after: Record<string, string> = {};
      for (const entry of live) if (entry.finished !== undefined) after[entry.partition] = entry.finished;
      const targets: PositionMap = await retryForever(
        () =>
          readEnds(
            log,
            live.map((entry) => entry.partition),
            after,
            options.batchSize === undefined ? {} : { batchSize: options.batchSize },
          ),
        { policy: transient, ...(signal ? { signal } : {}) },
      );
      await waitUntil(
        live,
        () => live.every((entry) => entry.gone || reached(entry, targets[entry.partition])),
        () =>
          live
            .filter((entry) => !entry.gone && !reached(entry, targets[entry.partition]))
            .map((entry) => `partition ${entry.partition} (finished ${entry.finished ?? 'nothing'}, end ${targets[entry.partition]})`)
            .join(', '),
        signal,
      );
      for (const entry of fresh) seen.set(entry.partition, entry);
    }
    // A stop hands every partition back: what it was waiting for did not happen.
    if (state !== 'running') {
      const left = [...seen.values()].filter((entry) => entry.finished !== PARTITION_END).map((entry) => entry.partition);
      throw new RiverlogError(
        'STOPPED',
        `${where}: caughtUp() ended because the consumer is ${state}; partitions handed back before they caught up: ${left.join(', ') || '(none)'}.`,
      );
    }
    await writer?.flush();
    // Where it got to: the partitions it still works on, and those it read to their end.
    const positions: Record<string, string> = {};
    const current = new Map(progresses().map((entry) => [entry.partition, entry]));
    for (const [partition, first] of seen) {
      const entry = current.get(partition) ?? first;
      if (entry.finished !== undefined && (!entry.gone || entry.finished === PARTITION_END)) positions[partition] = entry.finished;
    }
    return positions;
  }

  options.signal?.addEventListener('abort', () => void consumer.stop().catch(() => {}), { once: true });

  const consumer: Consumer = {
    group,
    start() {
      if (state !== 'new') {
        return Promise.reject(
          new RiverlogError('INVALID_STATE', `${where}: start() was already called; create a new consumer to start again.`),
        );
      }
      state = 'starting';
      starting = (async () => {
        writer?.start();
        if (member) await member.start();
        else await assignment?.start();
        if (state === 'starting') state = 'running';
      })();
      return starting;
    },
    stop() {
      if (state === 'new') state = 'stopped';
      stopped ??= shutdown();
      return stopped;
    },
    caughtUp,
    lag() {
      const lag: Record<string, Lag> = {};
      for (const entry of progresses()) {
        const current = entry.lag();
        if (current !== undefined && !entry.gone) lag[entry.partition] = current;
      }
      return lag;
    },
    status() {
      const partitions: PartitionStatus[] = progresses()
        .filter((entry) => !entry.gone || entry.stopped)
        .map((entry) => {
          const base: PartitionStatus = {
            partition: entry.partition,
            state: entry.state,
            finished: entry.finished,
            lag: entry.lag(),
            caughtUp: entry.caughtUp,
          };
          const epoch = entry instanceof PartitionWorker ? { epoch: entry.epoch } : {};
          return entry.stopped ? { ...base, ...epoch, stopped: entry.stopped } : { ...base, ...epoch };
        })
        .sort((a, b) => byName(a.partition, b.partition));
      return { group, state, assignment: mode, partitions, retries: board.list() };
    },
    assigned() {
      return progresses()
        .filter((entry) => !entry.gone)
        .map((entry) => entry.partition)
        .sort(byName);
    },
  };
  return consumer;
}
