import type { EventLog, LeaseStore, LogRecord, PositionMap, ViewStore } from '@riverlog/core';
import { ClosedError, compareOffsets, defaultLeaseOwner, RiverlogError, sleep } from '@riverlog/core';
import type { AnyView, View } from './define-view.js';
import { FoldUnit, recordsAfter, ViewIndexError } from './fold.js';
import { LeaseKeeper } from './lease-keeper.js';
import { reportSkips, type SkipReporting } from './skips.js';
import { switchAliasIfNewer } from './versions.js';

/** What one commit of a view did. */
export interface ViewCommitInfo {
  readonly table: string;
  /** The checkpoint of the partitions committed, before (absent: none yet) and after. */
  readonly from: PositionMap;
  readonly to: PositionMap;
  /** Records read, events applied, records skipped, rows written (put or deleted). */
  readonly records: number;
  readonly applied: number;
  readonly skipped: number;
  readonly rows: number;
}

/** Counters of a running view, since it started. */
export interface ViewProgress {
  readonly table: string;
  readonly records: number;
  readonly applied: number;
  readonly skipped: number;
  readonly commits: number;
  /** Commits refused because another builder had moved the checkpoint (then reloaded and resumed). */
  readonly conflicts: number;
  /** The checkpoint as this process knows it. */
  readonly positions: PositionMap;
  /** The partitions this process builds now (all of them without `leases`). */
  readonly partitions: readonly string[];
}

export interface RunViewOptions extends SkipReporting {
  readonly log: EventLog;
  readonly store: ViewStore;
  /** Share the view's partitions among processes: one lease per partition, renewed every `leaseTtlMs / 3`, taken over once expired. */
  readonly leases?: LeaseStore;
  /** This process's name in the leases. Default `<hostname>/<pid>/<random>`. */
  readonly owner?: string;
  /** Default 10,000 ms. */
  readonly leaseTtlMs?: number;
  /**
   * With `leases`: one lease for the whole view instead of one per partition,
   * so one process builds it and the others stand by. Use it for views whose
   * rows are changed from several partitions (multi-entity views).
   */
  readonly exclusive?: boolean;
  /** Largest batch read from the log at once (records of one partition). Default 1,000. */
  readonly batchSize?: number;
  /**
   * Most records folded into one commit. Batches that are already there are
   * folded together (any partitions) up to this many, then committed at once;
   * when the log has nothing more right now, what is folded is committed. Default 10,000.
   */
  readonly commitSize?: number;
  /** Stops the view, like `stop()`. */
  readonly signal?: AbortSignal;
  /**
   * Once caught up, point the view's alias at this version when the alias is
   * unset or names an older version. Default true.
   */
  readonly switchAlias?: boolean;
  /** Called after each commit. */
  readonly onCommit?: (info: ViewCommitInfo) => void;
  /** Called when the view stops on an error (`done` rejects with it too). */
  readonly onError?: (error: unknown) => void;
}

/** A running view. */
export interface ViewRunner {
  /** The table it builds, `${name}@${version}`. */
  readonly table: string;
  /** Its name in the leases. */
  readonly owner: string;
  /**
   * Resolves with the checkpoint once the view has folded everything the log
   * held when called (all partitions, whichever process builds them).
   * Rejects if the view stops first.
   */
  caughtUp(): Promise<PositionMap>;
  /** Counters and the checkpoint so far. */
  progress(): ViewProgress;
  /** Stops reading, commits what is folded, gives back leases. Does not close the log or store. */
  stop(): Promise<void>;
  /** Settles when the view stops: resolves after `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

const RETRIES = 5;
const IDLE: unique symbol = Symbol('idle');

/** Thrown inside the read loop to read again from the stored checkpoint. */
class Restart {}

interface Waiter {
  readonly heads: PositionMap;
  /** False for the runner's own waiter (the alias switch): its failure is not the user's. */
  readonly external: boolean;
  resolve(positions: PositionMap): void;
  reject(error: unknown): void;
}

function wholeNumber(table: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RiverlogError('INVALID_OPTION', `runView(${table}): ${name} must be a whole number ≥ 1, got ${value}.`);
  }
  return value;
}

/** Resolves with IDLE after pending I/O callbacks: a log read that has data resolves before it. */
const idle = () => new Promise<typeof IDLE>((resolve) => setImmediate(() => resolve(IDLE)));

/**
 * Builds a view: catches up with the log, then follows it. Batches are
 * decoded and folded in memory — several events of one row are written once —
 * and committed together with the view's checkpoint, so a crash and
 * redelivery never apply an event twice.
 *
 * @example
 * const runner = runView(products, { log, store });
 * await runner.caughtUp();
 * const reader = openView(products, store);
 * await reader.list('byCategory', { prefix: ['shoes'] });
 * await runner.stop();
 */
export function runView(view: AnyView, options: RunViewOptions): ViewRunner {
  const v = view as View;
  const { log, store, leases } = options;
  const table = v.table;
  const batchSize = wholeNumber(table, 'batchSize', options.batchSize ?? 1000);
  const commitSize = wholeNumber(table, 'commitSize', options.commitSize ?? 10_000);
  const ttlMs = wholeNumber(table, 'leaseTtlMs', options.leaseTtlMs ?? 10_000);
  const owner = options.owner ?? defaultLeaseOwner();
  const renewEveryMs = Math.min(Math.max(10, Math.floor(ttlMs / 3)), ttlMs - 1);
  const load = (keys: readonly string[]) => store.getMany(table, keys);

  let stopped = false;
  /** Aborted by `stop()`: ends a wait before retrying. */
  const stopping = new AbortController();
  let failure: unknown;
  let reading: AbortController | undefined;
  let restartWanted = false;
  let keeper: LeaseKeeper | undefined;
  let ownershipChanged: (() => void) | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  /** The stored checkpoint of the partitions this process builds. */
  const checkpoint: Record<string, string> = {};
  /** The furthest checkpoint seen per partition, ours or (with leases) other builders'. */
  const known: Record<string, string> = {};
  const waiters = new Set<Waiter>();
  const counters = { records: 0, applied: 0, skipped: 0, commits: 0, conflicts: 0 };
  /** Failures in a row; a commit or a batch read resets it. */
  let failures = 0;

  function requestRestart(): void {
    restartWanted = true;
    reading?.abort();
  }

  function owns(partition: string): boolean {
    return !keeper || keeper.owned.has(partition);
  }

  function learn(positions: PositionMap): void {
    for (const [partition, offset] of Object.entries(positions)) {
      const at = known[partition];
      if (at === undefined || compareOffsets(offset, at) > 0) known[partition] = offset;
    }
  }

  function covered(heads: PositionMap): boolean {
    for (const [partition, head] of Object.entries(heads)) {
      const at = known[partition];
      if (at === undefined || compareOffsets(at, head) < 0) return false;
    }
    return true;
  }

  function settleWaiters(): void {
    for (const waiter of waiters) {
      if (covered(waiter.heads)) {
        waiters.delete(waiter);
        waiter.resolve({ ...known });
      }
    }
    if (waiters.size === 0 && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = undefined;
    }
  }

  // Partitions built by other processes: their progress is only in the store.
  function pollOthers(): void {
    if (pollTimer || !keeper) return;
    pollTimer = setInterval(() => {
      store
        .positions(table)
        .then((positions) => {
          learn(positions);
          settleWaiters();
        })
        .catch(() => {});
    }, 100);
    pollTimer.unref();
  }

  async function reloadCheckpoint(): Promise<void> {
    const stored = await store.positions(table);
    for (const partition of Object.keys(checkpoint)) delete checkpoint[partition];
    Object.assign(checkpoint, stored);
    learn(stored);
  }

  /** Folds a batch into the unit, leaving out what is already folded or committed. */
  async function fold(unit: FoldUnit, batch: readonly LogRecord[]): Promise<void> {
    const partition = batch[0]?.position.partition;
    if (partition === undefined) return;
    if (!owns(partition)) return requestRestart();
    const records = recordsAfter(batch, unit.reached(partition, checkpoint[partition]));
    if (records.length > 0) await unit.add(records, checkpoint[partition]);
  }

  async function commit(unit: FoldUnit): Promise<void> {
    if (unit.to.size === 0) return;
    const changes = unit.changes();
    const skipped = unit.skippedInOrder();
    await reportSkips(skipped, options);
    const from: Record<string, string> = {};
    for (const [partition, offset] of unit.from) if (offset !== undefined) from[partition] = offset;
    const to = Object.fromEntries(unit.to);
    try {
      await store.commit(table, { changes, positions: to, expected: from });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'CONFLICT') throw error;
      counters.conflicts++;
      await reloadCheckpoint();
      throw new Restart();
    }
    Object.assign(checkpoint, to);
    learn(to);
    failures = 0;
    counters.records += unit.records;
    counters.applied += unit.applied;
    counters.skipped += skipped.length;
    counters.commits++;
    options.onCommit?.({ table, from, to, records: unit.records, applied: unit.applied, skipped: skipped.length, rows: changes.length });
    if (waiters.size > 0) settleWaiters();
  }

  async function waitForOwnership(): Promise<void> {
    await new Promise<void>((resolve) => {
      ownershipChanged = resolve;
    });
    ownershipChanged = undefined;
  }

  async function readOnce(): Promise<void> {
    const partitions = keeper ? [...keeper.owned] : undefined;
    if (partitions && partitions.length === 0) return waitForOwnership();
    await reloadCheckpoint();
    if (waiters.size > 0) settleWaiters();
    const controller = new AbortController();
    reading = controller;
    restartWanted = false;
    const batches = log
      .read({
        from: { after: { ...checkpoint } },
        ...(partitions ? { partitions } : {}),
        follow: true,
        maxBatch: batchSize,
        signal: controller.signal,
      })
      [Symbol.asyncIterator]();
    let unit: FoldUnit | undefined;
    try {
      while (!stopped && !restartWanted) {
        const next = batches.next();
        let result = unit ? await Promise.race([next, idle()]) : await next;
        if (result === IDLE) {
          // Nothing more right now: commit what is folded, then wait.
          await commit(unit as FoldUnit);
          unit = undefined;
          result = await next;
        }
        if (result.done || stopped || restartWanted) break;
        // The log answered: failures in a row end here, as they do at a commit.
        failures = 0;
        unit ??= new FoldUnit(v, load);
        await fold(unit, result.value);
        if (unit.records >= commitSize) {
          await commit(unit);
          unit = undefined;
        }
      }
      // Stopping or handing over partitions: keep what is folded (the commit guard refuses it if it is no longer ours).
      if (unit) await commit(unit);
    } catch (error) {
      if (!(error instanceof Restart)) throw error;
    } finally {
      reading = undefined;
      controller.abort();
      await batches.return?.();
    }
  }

  async function loop(): Promise<void> {
    let lastLeaseError: string | undefined;
    if (leases) {
      keeper = new LeaseKeeper({
        leases,
        group: `view:${table}`,
        owner,
        ttlMs,
        renewEveryMs,
        partitions: await log.partitions(),
        exclusive: options.exclusive ?? false,
        onChange: () => {
          requestRestart();
          ownershipChanged?.();
        },
        onError: (error) => {
          // The next beat tries again; say so once per distinct failure rather than at every beat.
          const message = error instanceof Error ? error.message : String(error);
          if (message === lastLeaseError) return;
          lastLeaseError = message;
          process.emitWarning(`View ${table}: renewing or taking leases failed (${message}); retrying every ${renewEveryMs} ms.`, {
            code: 'RIVERLOG_LEASE_FAILED',
          });
        },
      });
      await keeper.start();
      pollOthers();
    }
    while (!stopped) {
      try {
        await readOnce();
      } catch (error) {
        if (stopped) break;
        if (error instanceof ViewIndexError || error instanceof ClosedError || (error as { code?: unknown }).code === 'CLOSED') throw error;
        if (++failures > RETRIES) throw error;
        // A transient failure (busy database, network): resume from the stored checkpoint,
        // after 25, 100, 400, 1,600, 6,400 ms; `stop()` ends the wait.
        await sleep(25 * 4 ** (failures - 1), stopping.signal);
      }
    }
  }

  // A running view keeps the process alive, as a listening server does, until stopped.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  let done: Promise<void> = Promise.resolve();
  done = (async () => {
    try {
      await loop();
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      stopped = true;
      clearInterval(keepAlive);
      if (pollTimer) clearInterval(pollTimer);
      await keeper?.stop();
      const reason = failure ?? new RiverlogError('STOPPED', `View ${table} stopped before it caught up.`);
      let heard = false;
      for (const waiter of waiters) {
        heard ||= waiter.external;
        waiter.reject(reason);
      }
      waiters.clear();
      if (failure !== undefined && options.onError) {
        heard = true;
        options.onError(failure);
      }
      // A failure nobody hears of stays an unhandled rejection of `done`: loud, never silent.
      if (heard) done.catch(() => {});
    }
  })();

  const onAbort = () => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) queueMicrotask(onAbort);

  async function stop(): Promise<void> {
    stopped = true;
    stopping.abort();
    reading?.abort();
    ownershipChanged?.();
    options.signal?.removeEventListener('abort', onAbort);
    await done.catch(() => {});
  }

  function waitForHeads(external: boolean): Promise<PositionMap> {
    return log.heads().then(
      (heads) =>
        new Promise<PositionMap>((resolve, reject) => {
          if (stopped) return reject(failure ?? new RiverlogError('STOPPED', `View ${table} stopped before it caught up.`));
          waiters.add({ heads, external, resolve, reject });
          settleWaiters();
          if (waiters.size > 0) pollOthers();
        }),
    );
  }

  function caughtUp(): Promise<PositionMap> {
    if (stopped) {
      return Promise.reject(failure ?? new RiverlogError('STOPPED', `View ${table} is stopped; start it again with runView.`));
    }
    return waitForHeads(true);
  }

  if (options.switchAlias ?? true) {
    waitForHeads(false)
      .then(() => (stopped ? undefined : switchAliasIfNewer(store, v)))
      .catch(() => {});
  }

  return {
    table,
    owner,
    caughtUp,
    progress: () => ({
      table,
      ...counters,
      positions: { ...known, ...checkpoint },
      partitions: keeper ? [...keeper.owned] : Object.keys(checkpoint),
    }),
    stop,
    done,
  };
}
