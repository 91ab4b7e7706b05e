import type { Lag, PositionMap } from '@riverlog/core';
import { RiverlogError, readEnds } from '@riverlog/core';
import type { AssignmentHooks, PartitionAssignment } from '@riverlog/core/backend';
import { LeaseBalancer, LocalAssignment, readyPartitions, timeSlice } from '@riverlog/core/backend';
import { Builder, type StoppedPartition, type ViewCounters } from './builder.js';
import { Committer } from './committer.js';
import type { AnyView, View } from './define-view.js';
import { Folder } from './folder.js';
import { type ResolvedOptions, type RunViewOptions, resolveOptions } from './options.js';
import { Progress, reached } from './progress.js';
import { isFatal, Retries, type ViewRetry } from './retries.js';
import { SkipReporter } from './skips.js';
import { switchAliasIfNewer } from './versions.js';

/** A snapshot of a running view. */
export interface ViewStatus extends Readonly<ViewCounters> {
  /** The table it builds, `${name}@${version}`. */
  readonly table: string;
  /** Its name in the leases. */
  readonly owner: string;
  readonly state: 'running' | 'stopped' | 'failed';
  /** The partitions this process builds now, with the lease epoch it writes under (0 without leases). */
  readonly partitions: readonly { readonly partition: string; readonly epoch: number }[];
  /** The checkpoint as this process knows it (its commits, and others' while someone waits in `caughtUp()`). */
  readonly positions: PositionMap;
  /** How far behind the end each partition it builds is, from its last batch. */
  readonly lag: Readonly<Record<string, Lag>>;
  /** Transient failures being retried now, one per operation. */
  readonly retries: readonly ViewRetry[];
  /** Partitions stopped on an event this catalog cannot read yet, with the reason. */
  readonly stopped: readonly StoppedPartition[];
  /** The error that stopped the view, once `state` is `failed`. */
  readonly error?: unknown;
}

/** How long `caughtUp()` may wait: the same options on the view runner and the consumer. */
export interface CaughtUpOptions {
  /** Gives up with `CAUGHT_UP_TIMEOUT` after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Gives up with `CAUGHT_UP_TIMEOUT` when it aborts (the view goes on). */
  readonly signal?: AbortSignal;
}

/** A running view. */
export interface ViewRunner {
  /** The table it builds, `${name}@${version}`. */
  readonly table: string;
  /** Its name in the leases. */
  readonly owner: string;
  /**
   * Resolves with the checkpoint (the positions reached) once the view has
   * folded everything the log held when called (all partitions, whichever
   * process builds them). Rejects with `CAUGHT_UP_TIMEOUT` after `timeoutMs`
   * or when `signal` aborts (naming the partitions still behind; the view
   * goes on), `STOPPED` if the view stops first, and with the partition's
   * error if a partition it waits for stopped on an unreadable event.
   *
   * @example
   * const positions = await runner.caughtUp({ timeoutMs: 10_000 }); // { '0': '41', '1': 'end' }
   */
  caughtUp(options?: CaughtUpOptions): Promise<PositionMap>;
  /** A snapshot: partitions, checkpoint, lag, retries under way, stopped partitions, counters. */
  status(): ViewStatus;
  /** Stops reading, commits what is folded (one attempt), gives back leases. Does not close the log or store. */
  stop(): Promise<void>;
  /** Settles when the view stops: resolves after `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

/** How often the stored checkpoint is read while someone waits in `caughtUp()`, for partitions other processes build. */
const POLL_MS = 100;

/** `timeoutMs` and `signal` as one signal, or none. */
function caughtUpSignal(options: CaughtUpOptions): AbortSignal | undefined {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const present = [options.signal, timeout].filter((signal): signal is AbortSignal => signal !== undefined);
  return present.length <= 1 ? present[0] : AbortSignal.any(present);
}

/** Settles as `promise` does, or rejects with `signal`'s reason when it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

function stoppedError(table: string, what: string): RiverlogError {
  return new RiverlogError('STOPPED', `View ${table} ${what}; start it again with runView.`);
}

/** The shared partition assignment: fenced leases among processes, or every partition for this one. */
function assignmentFor(view: View, options: RunViewOptions, resolved: ResolvedOptions, hooks: AssignmentHooks): PartitionAssignment {
  const { log, store, leases } = options;
  const ready = async () => readyPartitions(await log.partitions(), await store.positions(view.table));
  if (!leases) return new LocalAssignment({ partitions: ready, ...hooks });
  return new LeaseBalancer({
    store: leases.store,
    group: `view:${view.table}`,
    owner: resolved.owner,
    ttlMs: resolved.ttlMs,
    renewEveryMs: resolved.renewEveryMs,
    partitions: ready,
    ...(leases.now ? { now: leases.now } : {}),
    ...hooks,
  });
}

/**
 * Builds a view: catches up with the log, then follows it, with an
 * exactly-once effect however many processes run it. Batches are folded in
 * memory — several events of one row are written once — and committed as
 * guarded row writes (each at the version read, with what it has applied)
 * together with the event ids folded and the checkpoint; a conflict reads
 * and folds again, a row skips what it has applied, an id is folded once.
 * With `leases`, processes share the partitions through fenced leases.
 *
 * @example
 * const runner = runView(products, { log, store, leases: { store: leaseStore, ttlMs: 10_000 } });
 * await runner.caughtUp();
 * const reader = openView(products, store);
 * await reader.list({ index: 'byCategory', prefix: ['shoes'] });
 * await runner.stop();
 */
export function runView(view: AnyView, options: RunViewOptions): ViewRunner {
  const v = view as View;
  const table = v.table;
  const resolved = resolveOptions(`runView(${table})`, v, options);
  const { log, store } = options;

  const stopping = new AbortController();
  const retries = new Retries(resolved.policy, stopping.signal, options.onRetry);
  const committer = new Committer(store, table, retries, view.idWindow > 0);
  const progress = new Progress();
  const reporter = new SkipReporter(options, retries);
  let builder: Builder;
  const folder = new Folder(v, committer, {
    onUnreadable: resolved.onUnreadable,
    rememberIds: view.idWindow > 0,
    maxRows: resolved.commitSize,
    slice: timeSlice(),
    commitFull: (unit) => builder.commitFull(unit),
  });
  builder = new Builder({
    table,
    log,
    committer,
    folder,
    progress,
    reporter,
    retries,
    batchSize: resolved.batchSize,
    commitSize: resolved.commitSize,
    stopping: stopping.signal,
    ...(options.deadLetters ? { deadLetters: options.deadLetters } : {}),
    ...(options.onCommit ? { onCommit: options.onCommit } : {}),
    onStopped: (stopped) => {
      progress.fail(stopped.error, stopped.partition);
      options.onError?.(stopped.error, stopped.partition);
    },
  });

  let lastAssignmentError: string | undefined;
  const assignment = assignmentFor(v, options, resolved, {
    acquired: (partition, epoch) => builder.acquired(partition, epoch),
    lost: (partition, epoch) => builder.lost(partition, epoch),
    handBack: (partition) => builder.handBack(partition),
    onError: (error, partition) => {
      // The next round tries again; say so once per distinct failure rather than at every round.
      const message = error instanceof Error ? error.message : String(error);
      if (message === lastAssignmentError) return;
      lastAssignmentError = message;
      process.emitWarning(
        `View ${table}: sharing partitions failed${partition === undefined ? '' : ` (partition ${partition})`}: ${message}; retrying.`,
        { code: 'RIVERLOG_ASSIGNMENT_FAILED' },
      );
    },
  });
  builder.assignment = assignment;

  let state: ViewStatus['state'] = 'running';
  let failure: unknown;
  let pendingCaughtUps = 0;
  let pollTimer: NodeJS.Timeout | undefined;

  // Partitions built by other processes: their progress is only in the store.
  function poll(): void {
    if (pollTimer) return;
    pollTimer = setInterval(() => {
      if (!progress.waiting) {
        clearInterval(pollTimer);
        pollTimer = undefined;
        return;
      }
      store.positions(table).then(
        (positions) => progress.learn(positions),
        () => undefined,
      );
    }, POLL_MS);
    pollTimer.unref();
  }

  // A running view keeps the process alive, as a listening server does, until stopped.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  // Settled once the assignment made its first round (or the run ended): until then no partition is known to be this process's.
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  let done: Promise<void> = Promise.resolve();
  done = (async () => {
    try {
      await committer.createTable({ indexes: v.indexNames, idWindow: v.idWindow });
      if (stopping.signal.aborted) return;
      await assignment.start();
      markStarted();
      await builder.run();
    } catch (error) {
      // A transient failure whose retry `stop()` ended is not the view's failure.
      if (!stopping.signal.aborted || isFatal(error)) failure = error;
    } finally {
      markStarted();
      stopping.abort();
      builder.stop();
      clearInterval(keepAlive);
      if (pollTimer) clearInterval(pollTimer);
      await assignment.stop().catch(() => undefined);
      state = failure === undefined ? 'stopped' : 'failed';
      const heard = pendingCaughtUps > 0 || (failure !== undefined && options.onError !== undefined);
      progress.fail(failure ?? stoppedError(table, 'stopped before it caught up'));
      if (failure !== undefined) options.onError?.(failure);
      // A failure nobody hears of stays an unhandled rejection of `done`: loud, never silent.
      if (failure !== undefined && heard) done.catch(() => undefined);
    }
    if (failure !== undefined) throw failure;
  })();

  const onAbort = () => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) queueMicrotask(onAbort);

  async function stop(): Promise<void> {
    stopping.abort();
    builder.stop();
    options.signal?.removeEventListener('abort', onAbort);
    await done.catch(() => undefined);
  }

  /**
   * What the log holds now, per partition: what `caughtUp()` waits for. The
   * partitions other processes build (or none yet) are read from the stored
   * checkpoint to their end; those this process builds are measured from
   * where its own read stands once that read reaches their end, so a
   * catch-up does not read its backlog twice. Which partitions are this
   * process's is known once the assignment made its first round: asked
   * before (`caughtUp()` right after `runView`), it waits for that round.
   */
  async function ends(): Promise<PositionMap> {
    await started;
    const stored = await committer.positions();
    progress.learn(stored);
    const ids = (await retries.run('partitions', () => log.partitions())).map((partition) => partition.id);
    const readEndsOf = (partitions: readonly string[], after: PositionMap) =>
      partitions.length === 0
        ? Promise.resolve({})
        : retries.run('read', () => readEnds(log, partitions, after, { types: v.readTypes, signal: stopping.signal }));
    const own = ids.filter((id) => builder.building.has(id));
    const measured = await Promise.all([
      readEndsOf(
        ids.filter((id) => !own.includes(id)),
        stored,
      ),
      ...own.map(async (id) => {
        const end = await builder.whenAtEnd(id);
        const after = end === 'gone' || end.after === undefined ? stored : { ...stored, [id]: end.after };
        return readEndsOf([id], after);
      }),
    ]);
    return Object.assign({}, ...measured);
  }

  async function waitCaughtUp(signal?: AbortSignal, measured?: (target: PositionMap) => void): Promise<PositionMap> {
    if (stopping.signal.aborted) throw failure ?? stoppedError(table, 'is stopped');
    const target = await abortable(ends(), signal);
    measured?.(target);
    if (stopping.signal.aborted) throw failure ?? stoppedError(table, 'stopped before it caught up');
    for (const stopped of builder.stopped.values()) {
      const end = target[stopped.partition];
      if (end !== undefined && !reached(progress.positions()[stopped.partition], end)) throw stopped.error;
    }
    const waiting = progress.wait(target, signal);
    poll();
    return waiting;
  }

  function caughtUp(callOptions: CaughtUpOptions = {}): Promise<PositionMap> {
    const signal = caughtUpSignal(callOptions);
    let target: PositionMap | undefined;
    pendingCaughtUps++;
    return waitCaughtUp(signal, (measured) => {
      target = measured;
    })
      .catch((error) => {
        if (!signal?.aborted || error !== signal.reason) throw error;
        const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
        throw new RiverlogError(
          'CAUGHT_UP_TIMEOUT',
          `View ${table}: caughtUp() gave up because ${timedOut ? 'its time ran out' : 'its signal was aborted'}; still behind on ${
            target ? progress.behind(target) : 'every partition (where the log ends was not known yet)'
          }. Is the view stuck (status().retries, status().stopped)?`,
        );
      })
      .finally(() => {
        pendingCaughtUps--;
      });
  }

  if (options.switchAlias ?? true) {
    // Once caught up, reads switch to this version (retried as long as the store fails; a newer version is left alone).
    waitCaughtUp()
      .then(() => retries.run('alias', () => switchAliasIfNewer(store, v)))
      .catch(() => undefined);
  }

  return {
    table,
    owner: resolved.owner,
    caughtUp,
    status: () => ({
      table,
      owner: resolved.owner,
      state,
      ...builder.counters,
      partitions: [...builder.building].map(([partition, epoch]) => ({ partition, epoch })),
      positions: progress.positions(),
      lag: Object.fromEntries(builder.lag),
      retries: retries.underWay(),
      stopped: [...builder.stopped.values()],
      ...(failure !== undefined ? { error: failure } : {}),
    }),
    stop,
    done,
  };
}
