import { RiverlogError } from './errors.js';
import type { Fence } from './ports.js';

/**
 * What a {@link PartitionAssignment} tells its host, and asks of it. Hooks
 * are called from the assignment's rounds; a hook that throws or rejects is
 * reported to `onError`.
 *
 * @example
 * const hooks: AssignmentHooks = {
 *   acquired: (partition, epoch) => workers.start(partition, epoch),
 *   lost: (partition, epoch) => workers.abort(partition, epoch),
 *   handBack: (partition) => workers.finish(partition),
 *   onError: (error, partition) => console.warn(`assignment ${partition ?? ''}`, error),
 * };
 */
export interface AssignmentHooks {
  /**
   * This process now owns the partition, under lease `epoch` (0 without
   * leases): start working on it. With leases, claim it first (a checkpoint
   * save or view commit with no changes under {@link PartitionAssignment.fence})
   * so that the previous owner's late writes are refused from then on.
   */
  acquired?(partition: string, epoch: number): void | Promise<void>;
  /**
   * The partition is no longer ours, now: its lease ran out by our clock (the
   * store did not answer in time) or the store refused to renew it (someone
   * else took it, also while it was being handed back). Stop working on it at
   * once; writes under its fence will be refused. Nothing is released.
   *
   * `epoch` is the lease epoch of the tenure that ended. The partition may
   * be taken again (a higher epoch, `acquired` again) before the host acts on
   * a loss — and a write made under the old epoch may be refused with
   * `LEASE_LOST` after that — so a host drops its work on the partition only
   * when that work is of `epoch` or older, never a newer tenure's.
   */
  lost?(partition: string, epoch: number): void | Promise<void>;
  /**
   * This process should give the partition up (it holds more than its fair
   * share, or the partition is no longer listed): finish its in-flight work
   * and resolve. It stays ours until then, and is released right after.
   * Default: resolves at once.
   */
  handBack?(partition: string): Promise<void>;
  /** Talking to the store (or a hook) failed; the next round tries again. */
  onError?(error: unknown, partition?: string): void;
}

/**
 * Which partitions of a group this process works on: the one mechanism the
 * consumer and the view builder share, with fenced leases
 * ({@link LeaseBalancer}) or without ({@link LocalAssignment}: this process
 * owns every partition). The host lists the partitions that are ready to be
 * worked on (lineage: parents finished; not yet read to their end) and starts
 * and stops its per-partition work from the hooks.
 *
 * @example
 * const assignment: PartitionAssignment = leases
 *   ? new LeaseBalancer({ store: leases.store, group, owner, ttlMs, renewEveryMs, partitions: ready, ...hooks })
 *   : new LocalAssignment({ partitions: ready, ...hooks });
 * await assignment.start();
 * // per batch: if (!assignment.holds(partition)) stop; commit with fence: assignment.fence([partition])
 * // a closed partition read to its end: await assignment.finished(partition); void assignment.refresh()
 * await assignment.stop();
 */
export interface PartitionAssignment {
  /** Takes a first share (the hooks fire for it), then keeps it up to date until {@link halt} or {@link stop}. */
  start(): Promise<void>;
  /** Stops taking, renewing and rebalancing (after the round under way); what is held stays held until {@link stop}. */
  halt(): Promise<void>;
  /** Halts, waits for hand-backs under way, then gives up every partition. Idempotent. */
  stop(): Promise<void>;
  /** True while this process may still work on the partition (with leases: its lease has not run out by our clock). */
  holds(partition: string): boolean;
  /** The partitions held now (those being handed back included), in name order ('2' before '10'). */
  owned(): string[];
  /**
   * The fencing tokens to write under: our epoch for each of `partitions`
   * (an empty fence without leases). Throws a `RiverlogError` with code
   * `LEASE_LOST` for a partition that is not held.
   */
  fence(partitions: Iterable<string>): Fence;
  /**
   * The partition was read to its end (closed, checkpoint `PARTITION_END`):
   * give it up now, with no hook. It is never taken again by this process;
   * the host's partition list should not list it any more either.
   */
  finished(partition: string): Promise<void>;
  /**
   * Starts a round now instead of at the next timer (with leases: a beat;
   * without: a poll of the partition list), and resolves when it is done. A
   * round under way may have listed the partitions before the change, so
   * the new one follows it; calls made meanwhile share that one. The host
   * calls it after {@link finished}, so the partition's children start at
   * once. Does nothing once halted.
   *
   * @example
   * await assignment.finished(partition);
   * void assignment.refresh(); // its children are ready now
   */
  refresh(): Promise<void>;
}

/** Sorts partition names as numbers where they are numbers: '2' before '10'. */
export const byPartitionName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** Calls a hook, reporting a throw or a rejection to `report`. */
export function callHook(
  report: (error: unknown, partition?: string) => void,
  hook: (() => void | Promise<void>) | undefined,
  partition: string,
): void {
  if (!hook) return;
  try {
    const result = hook();
    if (result) result.catch((error) => report(error, partition));
  } catch (error) {
    report(error, partition);
  }
}

/** The error {@link PartitionAssignment.fence} throws for a partition this process does not hold. */
export function notHeld(group: string, partition: string): RiverlogError {
  return new RiverlogError(
    'LEASE_LOST',
    `Group ${group}, partition ${partition}: this process holds no lease for it (lost, handed back or never taken); stop working on it and write nothing for it.`,
  );
}

/**
 * The rounds of a {@link PartitionAssignment}, one at a time: {@link now}
 * shares a round under way rather than starting a second one; {@link after}
 * runs one more once the round under way is done (calls made meanwhile share
 * it), for a change that round may have listed too early. A round that
 * rejects is reported; once `halted()` is true no round starts.
 *
 * @example
 * const rounds = new Rounds(() => this.reconcile(), (error) => report(error), () => this.halted);
 * setInterval(() => void rounds.now(), pollMs);
 * await rounds.after(); // refresh()
 * await rounds.underWay(); // halt()
 */
export class Rounds {
  private current: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly report: (error: unknown) => void,
    private readonly halted: () => boolean,
  ) {}

  /** A round now, or the one under way. */
  now(): Promise<void> {
    if (this.halted()) return Promise.resolve();
    this.current ??= this.run()
      .catch((error) => this.report(error))
      .finally(() => {
        this.current = undefined;
      });
    return this.current;
  }

  /** A round that starts after the one under way (now, when there is none). */
  after(): Promise<void> {
    if (this.halted()) return Promise.resolve();
    const underWay = this.current;
    if (!underWay) return this.now();
    this.queued ??= underWay.then(() => {
      this.queued = undefined;
      return this.now();
    });
    return this.queued;
  }

  /** Resolves once the round under way (if any) is done. */
  async underWay(): Promise<void> {
    await this.current;
  }

  private timer: NodeJS.Timeout | undefined;

  /** A first round now, then one every `everyMs` (each after `beforeEach`), until {@link stop}. */
  async repeat(everyMs: number, beforeEach: () => void = () => {}): Promise<void> {
    if (this.halted() || this.timer) return;
    await this.now();
    if (this.halted() || this.timer) return;
    this.timer = setInterval(() => {
      beforeEach();
      void this.now();
    }, everyMs);
  }

  /** No more rounds; resolves once the round under way (if any) is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }
}
