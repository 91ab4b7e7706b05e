import { hostname } from 'node:os';
import type { EventLog, LeaseStore, LogRecord, PositionMap, ViewStore } from '@riverlog/core';
import { ClosedError, compareOffsets, RiverlogError } from '@riverlog/core';
import type { AnyView, View } from './define-view.js';
import { decodeForView, foldEvents, ViewIndexError } from './fold.js';
import { LeaseKeeper } from './lease-keeper.js';
import { reportSkips, type SkipReporting } from './skips.js';
import { switchAliasIfNewer } from './versions.js';

/** What one commit of a view did. */
export interface ViewCommitInfo {
  readonly table: string;
  readonly partition: string;
  /** The checkpoint before (undefined on the partition's first commit) and after. */
  readonly from: string | undefined;
  readonly to: string;
  /** Records read, events applied, records skipped, rows written. */
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
  /** This process's name in the leases. Default: host, pid and a random suffix. */
  readonly owner?: string;
  /** Default 10,000 ms. */
  readonly leaseTtlMs?: number;
  /**
   * With `leases`: one lease for the whole view instead of one per partition,
   * so one process builds it and the others stand by. Use it for views whose
   * rows are changed from several partitions (multi-entity views).
   */
  readonly exclusive?: boolean;
  /** Largest batch read (and committed) at once. Default 1,000. */
  readonly batchSize?: number;
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
  /** Stops reading, waits for the batch in hand to commit, gives back leases. Does not close the log or store. */
  stop(): Promise<void>;
  /** Settles when the view stops: resolves after `stop()`, rejects with the error that stopped it. */
  readonly done: Promise<void>;
}

const RETRIES = 5;

class Restart {}

interface Waiter {
  readonly heads: PositionMap;
  /** False for the runner's own waiter (the alias switch): its failure is not the user's. */
  readonly external: boolean;
  resolve(positions: PositionMap): void;
  reject(error: unknown): void;
}

/**
 * Builds a view: catches up with the log, then follows it. Each batch (one
 * partition) is decoded, folded in memory — several events of one row are
 * written once — and committed together with the view's checkpoint, so a
 * crash and redelivery never apply an event twice.
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
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RiverlogError('INVALID_OPTION', `runView(${table}): batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  }
  const ttlMs = options.leaseTtlMs ?? 10_000;
  const owner = options.owner ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  let stopped = false;
  let failure: unknown;
  let reading: AbortController | undefined;
  let restartWanted = false;
  let keeper: LeaseKeeper | undefined;
  let ownershipChanged: (() => void) | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  const checkpoint: Record<string, string> = {};
  const known: Record<string, string> = {};
  const waiters = new Set<Waiter>();
  const counters = { records: 0, applied: 0, skipped: 0, commits: 0, conflicts: 0 };
  /** Failures in a row; a commit resets it. */
  let failures = 0;

  function requestRestart(): void {
    restartWanted = true;
    reading?.abort();
  }

  function owns(partition: string): boolean {
    return !keeper || keeper.owned.has(partition);
  }

  function covered(heads: PositionMap): boolean {
    for (const [partition, head] of Object.entries(heads)) {
      const at = known[partition];
      if (at === undefined || compareOffsets(at, head) < 0) return false;
    }
    return true;
  }

  /** Takes in checkpoint offsets, keeping the furthest seen per partition. */
  function learn(positions: PositionMap): void {
    for (const [partition, offset] of Object.entries(positions)) {
      const at = known[partition];
      if (at === undefined || compareOffsets(offset, at) > 0) known[partition] = offset;
    }
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

  async function processBatch(batch: readonly LogRecord[]): Promise<void> {
    const first = batch[0];
    if (!first) return;
    const partition = first.position.partition;
    if (!owns(partition)) return requestRestart();
    const expected = checkpoint[partition];
    const records = expected === undefined ? batch : batch.filter((r) => compareOffsets(r.position.offset, expected) > 0);
    const last = records[records.length - 1];
    if (!last) return;
    const decoded = decodeForView(v, records);
    const outcome = await foldEvents(v, decoded.events, (keys) => store.getMany(table, keys));
    const skipped = decoded.skipped.concat(outcome.skipped);
    if (skipped.length > 1) skipped.sort((a, b) => compareOffsets(a.record.position.offset, b.record.position.offset));
    await reportSkips(skipped, options);
    const to = last.position.offset;
    try {
      await store.commit(table, {
        changes: outcome.changes,
        positions: { [partition]: to },
        expected: expected === undefined ? {} : { [partition]: expected },
      });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'CONFLICT') throw error;
      counters.conflicts++;
      await reloadCheckpoint();
      throw new Restart();
    }
    checkpoint[partition] = to;
    learn({ [partition]: to });
    failures = 0;
    counters.records += records.length;
    counters.applied += outcome.applied;
    counters.skipped += skipped.length;
    counters.commits++;
    options.onCommit?.({
      table,
      partition,
      from: expected,
      to,
      records: records.length,
      applied: outcome.applied,
      skipped: skipped.length,
      rows: outcome.changes.length,
    });
    if (waiters.size > 0) settleWaiters();
  }

  async function reloadCheckpoint(): Promise<void> {
    const stored = await store.positions(table);
    for (const partition of Object.keys(checkpoint)) delete checkpoint[partition];
    Object.assign(checkpoint, stored);
    learn(stored);
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
    try {
      for await (const batch of log.read({
        from: { after: { ...checkpoint } },
        ...(partitions ? { partitions } : {}),
        follow: true,
        maxBatch: batchSize,
        signal: controller.signal,
      })) {
        if (stopped || restartWanted) break;
        await processBatch(batch);
        if (stopped || restartWanted) break;
      }
    } catch (error) {
      if (!(error instanceof Restart)) throw error;
    } finally {
      reading = undefined;
    }
  }

  async function loop(): Promise<void> {
    if (leases) {
      keeper = new LeaseKeeper({
        leases,
        group: `view:${table}`,
        owner,
        ttlMs,
        partitions: await log.partitions(),
        exclusive: options.exclusive ?? false,
        onChange: () => {
          requestRestart();
          ownershipChanged?.();
        },
        onError: () => {},
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
        // A transient failure (busy database, network): resume from the stored checkpoint.
        await new Promise((resolve) => setTimeout(resolve, 25 * 4 ** (failures - 1)));
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
    reading?.abort();
    ownershipChanged?.();
    options.signal?.removeEventListener('abort', onAbort);
    await done.catch(() => {});
  }

  function caughtUp(): Promise<PositionMap> {
    if (stopped) {
      return Promise.reject(failure ?? new RiverlogError('STOPPED', `View ${table} is stopped; start it again with runView.`));
    }
    return waitForHeads(true);
  }

  function waitForHeads(external: boolean): Promise<PositionMap> {
    return log.heads().then(
      (heads) =>
        new Promise<PositionMap>((resolve, reject) => {
          const waiter: Waiter = { heads, external, resolve, reject };
          if (stopped) return reject(failure ?? new RiverlogError('STOPPED', `View ${table} stopped before it caught up.`));
          waiters.add(waiter);
          settleWaiters();
          if (waiters.size > 0) pollOthers();
        }),
    );
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
