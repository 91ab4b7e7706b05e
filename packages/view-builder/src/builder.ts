import type { DeadLetterSink, EventLog, Lag, PositionMap } from '@riverlog/core';
import { backoffPolicy, PARTITION_END } from '@riverlog/core';
import type { PartitionAssignment } from '@riverlog/core/backend';
import { sleep } from '@riverlog/core/backend';
import { BatchReader } from './batches.js';
import type { Committer } from './committer.js';
import type { FoldUnit } from './fold.js';
import type { Folder, Unreadable } from './folder.js';
import type { ViewCommitInfo } from './options.js';
import type { Progress } from './progress.js';
import { codeOf, isFatal, type Retries } from './retries.js';
import type { SkipReporter } from './skips.js';

/** A partition this process stopped, and why. */
export interface StoppedPartition {
  readonly partition: string;
  /** The code of the error that stopped it, e.g. `UNREADABLE_VERSION`, `DECODE_FAILED`. */
  readonly code: string;
  readonly reason: string;
  /** The offset of the record it stopped before. */
  readonly offset: string;
  readonly error: unknown;
}

/** Counters of a running view, since it started. */
export interface ViewCounters {
  /** Records read and committed (folded, passed, skipped or duplicates). */
  records: number;
  /** Events folded. */
  applied: number;
  /** Records reported as skipped (dead letters). */
  skipped: number;
  /** Events left out because their id was folded already. */
  duplicates: number;
  commits: number;
  /** Commits refused because a row moved meanwhile (then read and folded again). */
  conflicts: number;
}

export interface BuilderParts {
  readonly table: string;
  readonly log: EventLog;
  readonly committer: Committer;
  readonly folder: Folder;
  readonly progress: Progress;
  readonly reporter: SkipReporter;
  readonly retries: Retries;
  readonly batchSize: number;
  readonly commitSize: number;
  /** Aborted by `stop()`: ends reads and waits. */
  readonly stopping: AbortSignal;
  readonly deadLetters?: DeadLetterSink;
  readonly onCommit?: (info: ViewCommitInfo) => void;
  /** A partition stopped on an unreadable event. */
  readonly onStopped: (stopped: StoppedPartition) => void;
}

/**
 * Where this process's read of a partition stood when it reached the end of
 * the partition (the offset of the last record read, if any), or `'gone'`
 * when the partition left this process before that.
 */
export type ReadEnd = { readonly after: string | undefined } | 'gone';

/** Why the read under way ends: commit what is folded and read again, or drop it (a partition was lost). */
type Restart = 'keep' | 'drop';

/** Thrown inside a read to drop the unit and read again from the stored checkpoint. */
class ReadAgain {
  constructor(readonly conflict: boolean) {}
}

const IDLE: unique symbol = Symbol('idle');
/** Resolves with IDLE after pending I/O callbacks: a log read that has data resolves before it. */
const idle = () => new Promise<typeof IDLE>((resolve) => setImmediate(() => resolve(IDLE)));

/** Backs off a little between folds that conflicted, so two builders on one hot row stop colliding. */
const conflictBackoff = backoffPolicy({ initialMs: 5, maxMs: 1_000 });

/**
 * The read-fold-commit loop of one view in one process: it reads the
 * partitions the {@link PartitionAssignment} gives it (claimed under their
 * fence), folds batches through the {@link Folder}, commits through the
 * {@link Committer} when the log has nothing more right now or `commitSize`
 * records are folded, and reads again from the stored checkpoint when the
 * partitions change, a commit conflicts (fold again) or a lease is lost
 * (drop that partition's work at once). A partition read to its end is
 * committed as finished and handed to `assignment.finished`.
 */
export class Builder {
  /** The partitions this process builds, with the lease epoch it writes under (0 without leases). */
  readonly building = new Map<string, number>();
  /** Partitions stopped on an unreadable event: not read again by this process. */
  readonly stopped = new Map<string, StoppedPartition>();
  /** How far behind each partition is, from its last batch. */
  readonly lag = new Map<string, Lag>();
  readonly counters: ViewCounters = { records: 0, applied: 0, skipped: 0, duplicates: 0, commits: 0, conflicts: 0 };
  assignment: PartitionAssignment | undefined;
  /** Partitions being handed back: resolved once their work is committed. */
  private readonly leaving = new Map<string, () => void>();
  private reading: AbortController | undefined;
  private reader: BatchReader | undefined;
  /** Partitions whose last batch in the read under way was a caught-up one. */
  private readonly atEnd = new Set<string>();
  private readonly endListeners = new Map<string, ((end: ReadEnd) => void)[]>();
  private restart: Restart | undefined;
  private wake: (() => void) | undefined;
  private conflictsInARow = 0;

  constructor(private readonly parts: BuilderParts) {}

  // ─── Assignment hooks ──────────────────────────────────────────────────

  /** A partition was given to this process under `epoch`: claim it (with leases), then read it. */
  async acquired(partition: string, epoch: number): Promise<void> {
    if (epoch > 0) {
      try {
        await this.parts.committer.claim(partition, epoch, this.parts.stopping);
      } catch (error) {
        if (codeOf(error) === 'LEASE_LOST') return; // taken over already: the assignment will see it lost
        throw error;
      }
    }
    if (this.parts.stopping.aborted) return;
    // Taken again meanwhile at a higher epoch (a claim answered late): that tenure stands.
    if ((this.building.get(partition) ?? -1) > epoch) return;
    this.building.set(partition, epoch);
    this.requestRestart('keep');
  }

  /**
   * The partition's tenure under `epoch` ended (undefined: the one held now):
   * drop its work at once and read on without it. A loss of an older tenure
   * than the one held — a commit made before this process took the partition
   * again, refused after — is ignored: dropping the new tenure would leave a
   * lease renewed that nobody builds under.
   */
  lost(partition: string, epoch?: number): void {
    const held = this.building.get(partition);
    if (epoch !== undefined && held !== undefined && epoch < held) return;
    this.notifyEnd(partition, 'gone');
    if (!this.building.delete(partition)) return;
    this.leaving.get(partition)?.();
    this.leaving.delete(partition);
    this.requestRestart('drop');
  }

  /** The partition is to be given up: commit its work, then resolve. */
  handBack(partition: string): Promise<void> {
    if (!this.building.has(partition)) return Promise.resolve();
    return new Promise((resolve) => {
      this.leaving.set(partition, resolve);
      this.requestRestart('keep');
    });
  }

  /**
   * Resolves once this process's read of `partition` is at the end of what
   * the partition holds: at once when its last batch was a caught-up one,
   * else with the next caught-up batch; `'gone'` when the partition is not
   * (or no longer) built here. What `caughtUp()` measures the end from,
   * instead of reading the whole backlog a second time.
   */
  whenAtEnd(partition: string): Promise<ReadEnd> {
    if (!this.building.has(partition) || this.stopped.has(partition) || this.parts.stopping.aborted) return Promise.resolve('gone');
    if (this.atEnd.has(partition)) return Promise.resolve({ after: this.reader?.position(partition) });
    return new Promise((resolve) => {
      const listeners = this.endListeners.get(partition) ?? [];
      listeners.push(resolve);
      this.endListeners.set(partition, listeners);
    });
  }

  private notifyEnd(partition: string, end: ReadEnd): void {
    const listeners = this.endListeners.get(partition);
    if (!listeners) return;
    this.endListeners.delete(partition);
    for (const listener of listeners) listener(end);
  }

  // ─── The loop ──────────────────────────────────────────────────────────

  /** Reads, folds and commits until stopped. */
  async run(): Promise<void> {
    try {
      while (!this.parts.stopping.aborted) {
        this.settleLeaving();
        const partitions = [...this.building.keys()].filter((p) => !this.stopped.has(p) && !this.leaving.has(p));
        if (partitions.length === 0) {
          await this.waitForChange();
          continue;
        }
        const conflict = await this.readOnce(partitions);
        if (conflict) await sleep(conflictBackoff.delay(this.conflictsInARow), this.parts.stopping);
      }
    } finally {
      this.settleLeaving();
      for (const partition of [...this.endListeners.keys()]) this.notifyEnd(partition, 'gone');
    }
  }

  /** Ends the read under way; `'drop'` wins over `'keep'`. */
  requestRestart(kind: Restart): void {
    if (this.restart !== 'drop') this.restart = kind;
    this.reading?.abort();
    this.wake?.();
  }

  /** Ends the read under way and the loop; what is folded is committed (once, without waiting on failures). */
  stop(): void {
    this.reading?.abort();
    this.wake?.();
  }

  private settleLeaving(): void {
    for (const [partition, resolve] of this.leaving) {
      this.building.delete(partition);
      this.notifyEnd(partition, 'gone');
      resolve();
    }
    this.leaving.clear();
  }

  private waitForChange(): Promise<void> {
    if (this.restart !== undefined) {
      this.restart = undefined;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      if (this.parts.stopping.aborted) this.wake();
    });
  }

  /** One read of `partitions` from the stored checkpoint, until a restart or stop; true when it ended on a conflict. */
  private async readOnce(partitions: readonly string[]): Promise<boolean> {
    const { committer, progress, folder, log, retries } = this.parts;
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.parts.stopping.addEventListener('abort', onStop, { once: true });
    this.reading = controller;
    this.restart = undefined;
    this.atEnd.clear();
    let reader: BatchReader | undefined;
    let unit: FoldUnit | undefined;
    try {
      const stored = await committer.positions(controller.signal);
      progress.learn(stored);
      const after: Record<string, string> = {};
      for (const partition of partitions) if (stored[partition] !== undefined) after[partition] = stored[partition] as string;
      reader = new BatchReader(log, { partitions, after, batchSize: this.parts.batchSize }, retries, controller.signal);
      this.reader = reader;
      for (;;) {
        if (controller.signal.aborted) break;
        const next = reader.next();
        let result = unit && !unit.empty ? await Promise.race([next, idle()]) : await next;
        if (result === IDLE) {
          // Nothing more right now: commit what is folded, then wait.
          await this.commit(unit as FoldUnit);
          unit = undefined;
          result = await next;
        }
        if (result.done || controller.signal.aborted) break;
        const batch = result.value;
        if (!this.building.has(batch.partition) || this.stopped.has(batch.partition)) continue;
        this.lag.set(batch.partition, batch.lag);
        const folded = await folder.add(unit ?? folder.newUnit(), batch, controller.signal);
        unit = folded.unit;
        if (folded.unreadable) {
          await this.commit(unit);
          unit = undefined;
          await this.stopPartition(folded.unreadable);
          this.requestRestart('keep');
          break;
        }
        if (batch.ended || unit.records >= this.parts.commitSize) {
          await this.commit(unit);
          unit = undefined;
        }
        if (batch.caughtUp) {
          this.atEnd.add(batch.partition);
          this.notifyEnd(batch.partition, { after: reader.position(batch.partition) });
        } else this.atEnd.delete(batch.partition);
      }
      // Stopping, or the partitions changed: keep what is folded unless a partition was lost.
      if (unit && this.restart !== 'drop') await this.commit(unit);
      return false;
    } catch (error) {
      if (error instanceof ReadAgain) return error.conflict;
      if (controller.signal.aborted && !isFatal(error)) return false;
      throw error;
    } finally {
      this.parts.stopping.removeEventListener('abort', onStop);
      if (this.reading === controller) this.reading = undefined;
      if (this.reader === reader) this.reader = undefined;
      this.atEnd.clear();
      controller.abort();
      reader?.close();
    }
  }

  /** Commits a unit the store cannot take more rows into (the {@link Folder} goes on in a new one). */
  commitFull(unit: FoldUnit): Promise<void> {
    return this.commit(unit);
  }

  /** Commits a unit under the fence of its partitions; a conflict or a lost lease reads again. */
  private async commit(unit: FoldUnit): Promise<void> {
    if (unit.empty) return;
    const { committer, reporter, progress, table } = this.parts;
    const assignment = this.assignment as PartitionAssignment;
    const partitions = [...unit.to.keys()];
    for (const partition of partitions) {
      if (!assignment.holds(partition)) {
        this.lost(partition);
        throw new ReadAgain(false);
      }
    }
    const fence = assignment.fence(partitions);
    const skipped = unit.skippedInOrder();
    await reporter.report(skipped);
    let rows: number;
    try {
      rows = await committer.commit(unit, fence, this.parts.stopping);
    } catch (error) {
      if (codeOf(error) === 'CONFLICT') {
        this.counters.conflicts++;
        this.conflictsInARow++;
        throw new ReadAgain(true);
      }
      if (codeOf(error) === 'LEASE_LOST') {
        // Refused under the epochs of this fence: a loss of those tenures, which may be over already.
        const partition = (error as { partition?: unknown }).partition;
        for (const p of typeof partition === 'string' ? [partition] : partitions) this.lost(p, fence[p]);
        throw new ReadAgain(false);
      }
      throw error;
    }
    this.conflictsInARow = 0;
    reporter.forget(skipped);
    const to = unit.positions();
    const counters = this.counters;
    counters.records += unit.records;
    counters.applied += unit.applied;
    counters.skipped += skipped.length;
    counters.duplicates += unit.duplicates;
    counters.commits++;
    progress.learn(to);
    this.parts.onCommit?.({
      table,
      to,
      records: unit.records,
      applied: unit.applied,
      skipped: skipped.length,
      duplicates: unit.duplicates,
      rows,
    });
    for (const [partition, offset] of unit.to) {
      if (offset !== PARTITION_END) continue;
      // Read to its end: finished for good; its children become ready for whoever takes them.
      this.building.delete(partition);
      this.lag.delete(partition);
      await assignment.finished(partition);
      // Its children are ready now: a round at once, not at the assignment's next timer.
      void assignment.refresh();
    }
  }

  /** Stops a partition before an unreadable event: visible in the status, to `onError`, and in the dead letters. */
  private async stopPartition(unreadable: Unreadable): Promise<void> {
    const { partition, error, skipped } = unreadable;
    const stopped: StoppedPartition = {
      partition,
      code: error.code,
      reason:
        `${error.message} View ${this.parts.table} stopped partition ${partition} before it; ` +
        'deploy the catalog that reads it and restart the view (or run it with onUnreadable: "dead-letter").',
      offset: skipped.record.position.offset,
      error,
    };
    this.stopped.set(partition, stopped);
    this.notifyEnd(partition, 'gone');
    const letters = this.parts.deadLetters;
    if (letters) {
      const letter = {
        group: skipped.view,
        record: skipped.record,
        code: error.code,
        reason: stopped.reason,
        attempts: 1,
        at: new Date().toISOString(),
      };
      await this.parts.retries.run('deadLetters', () => letters.send([letter]), this.parts.stopping).catch(() => undefined);
    }
    this.parts.onStopped(stopped);
  }

  /** The checkpoint as this process knows it. */
  positions(): PositionMap {
    return this.parts.progress.positions();
  }
}
