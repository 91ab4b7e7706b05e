import { hostname } from 'node:os';
import { type AssignmentHooks, byPartitionName, callHook, notHeld, type PartitionAssignment, Rounds } from './assignment.js';
import { RiverlogError } from './errors.js';
import { planShare } from './fair-share.js';
import { LeaseWatch } from './lease-watch.js';
import type { Fence, Lease, LeaseStore } from './ports.js';

/**
 * A name for this process in a lease store: `<hostname>/<pid>/<random>`, unique
 * per call, so two balancers in one process never mistake each other's leases.
 *
 * @example
 * const owner = defaultLeaseOwner(); // 'web-3/4711/k2x9qa'
 */
export function defaultLeaseOwner(): string {
  return `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * How a {@link LeaseBalancer} shares a group, and its hooks.
 *
 * @example
 * const options: LeaseBalancerOptions = {
 *   store: leases,
 *   group: 'emailer',
 *   owner: defaultLeaseOwner(),
 *   ttlMs: 10_000,
 *   renewEveryMs: 3_000,
 *   partitions: async () => (await log.partitions()).map((p) => p.id),
 *   ...hooks,
 * };
 */
export interface LeaseBalancerOptions extends AssignmentHooks {
  readonly store: LeaseStore;
  /** The group whose partitions are shared; membership leases live in `<group>#members`. */
  readonly group: string;
  /** This process's name in the store; see {@link defaultLeaseOwner}. */
  readonly owner: string;
  /** How long a lease lasts without renewal, on each process's own clock. */
  readonly ttlMs: number;
  /** How often leases are renewed and the share rebalanced; below `ttlMs` (a third of it is usual). */
  readonly renewEveryMs: number;
  /** The partitions ready to be worked on (parents finished, not read to their end), asked at every round. */
  readonly partitions: () => Promise<readonly string[]>;
  /** This process's clock for durations (ms, any origin). Default `performance.now()`. Only differences are used. */
  readonly now?: () => number;
}

interface Held {
  lease: Lease;
  /** Our clock's time after which the lease may be someone else's: start of the last successful take or renew + ttl. */
  validUntil: number;
  /** The host is finishing the partition before the lease is released. */
  handingBack: boolean;
}

/**
 * Shares a group's partitions fairly among its processes through fenced
 * leases in a {@link LeaseStore}: the {@link PartitionAssignment} with leases.
 *
 * **Leases.** One lease per partition, renewed every `renewEveryMs`. Each
 * process also keeps a membership lease (row `owner` in group
 * `<group>#members`), so every process knows how many share the work. Expiry
 * is judged by the observer ({@link LeaseWatch}): a lease is free when it was
 * released or its counter has not moved for `ttlMs` on *our* clock, and is
 * taken with a compare-and-set on the lease as seen (its epoch, the fencing
 * token, then grows). Our own lease is valid until the start of its last
 * successful take or renew + `ttlMs`, on our clock ({@link holds}); past
 * that it is `lost`, even if the store has not answered. No time from
 * another host is ever compared with ours, so a clock that runs ahead or
 * behind cannot make two processes hold one partition; a process that was
 * paused is refused by the stores through its stale fence ({@link fence}).
 *
 * **Fair shares.** Each round follows {@link planShare}: with N ready
 * partitions and M live members every process ends with ⌊N/M⌋ or ⌈N/M⌉ —
 * taking free ones up to ⌈N/M⌉, handing back (after its in-flight work)
 * what is above ⌈N/M⌉, and, when below ⌊N/M⌋ with nothing free, stealing one
 * per round from the most loaded owner above ⌊N/M⌋ (but not above ⌈N/M⌉:
 * that one hands back by itself). Steals wait until the
 * membership seen has been stable for one renewal interval, so that a
 * process above its share hands back first. The rules never flap (see
 * {@link planShare}).
 *
 * **Clean-up.** Membership rows whose counter has not moved for `ttlMs`
 * (crashed processes) are removed. Partition rows are never removed, listed
 * or not, only taken over: they carry the epoch the stores fence on, and a
 * partition listed again after a removal would start over at epoch 1 under
 * fences holding a higher one (every save refused). A row is kept per
 * partition the group ever held. `stop()` releases every lease and removes
 * our membership.
 *
 * A failing store call is reported to `onError` and tried again at the next
 * round; it never stops the round for the other partitions.
 *
 * @example
 * const balancer = new LeaseBalancer({
 *   store: sqliteLeaseStore({ path: 'leases.db' }),
 *   group: 'emailer',
 *   owner: defaultLeaseOwner(),
 *   ttlMs: 10_000,
 *   renewEveryMs: 3_000,
 *   partitions: async () => readyPartitions(),
 *   acquired: (partition, epoch) => startWorker(partition, epoch),
 *   lost: (partition, epoch) => abortWorker(partition, epoch),
 *   handBack: (partition) => finishWorker(partition),
 *   onError: (error) => console.warn(error),
 * });
 * await balancer.start();
 * await checkpoints.save('emailer', positions, balancer.fence(Object.keys(positions)));
 * await balancer.stop(); // on shutdown, once the workers have stopped
 */
export class LeaseBalancer implements PartitionAssignment {
  private readonly held = new Map<string, Held>();
  private readonly handingBack = new Set<Promise<void>>();
  /** Partitions read to their end: never taken again. */
  private readonly done = new Set<string>();
  private readonly watch: LeaseWatch;
  private readonly now: () => number;
  private membership: Lease | undefined;
  /** The live members seen in the last round, and since when (our clock) that set has not changed. */
  private members = { key: '', since: 0 };
  /** One renew-and-balance round at a time. */
  private readonly rounds = new Rounds(
    () => this.renewAndBalance(),
    (error) => this.report(error),
    () => this.halted,
  );
  private halted = false;

  constructor(private readonly options: LeaseBalancerOptions) {
    const { ttlMs, renewEveryMs } = options;
    if (!(ttlMs > 0)) throw new RiverlogError('INVALID_OPTION', `LeaseBalancer: ttlMs must be > 0, got ${ttlMs}.`);
    if (!(renewEveryMs > 0 && renewEveryMs < ttlMs)) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `LeaseBalancer: renewEveryMs must be > 0 and below ttlMs (${ttlMs}), got ${renewEveryMs}; renew well before a lease expires.`,
      );
    }
    this.now = options.now ?? (() => performance.now());
    this.watch = new LeaseWatch(ttlMs, this.now);
  }

  private get membersGroup(): string {
    return `${this.options.group}#members`;
  }

  /** True while this process may still work on the partition: its lease has not run out by our clock. */
  holds(partition: string): boolean {
    return (this.held.get(partition)?.validUntil ?? Number.NEGATIVE_INFINITY) > this.now();
  }

  /** The partitions held now by our clock (those being handed back included), in name order. */
  owned(): string[] {
    return [...this.held.keys()].filter((partition) => this.holds(partition)).sort(byPartitionName);
  }

  /**
   * Our lease epoch for each of `partitions`, to write under. Throws a
   * `RiverlogError` with code `LEASE_LOST` for one we do not hold.
   */
  fence(partitions: Iterable<string>): Fence {
    const fence: Record<string, number> = {};
    for (const partition of partitions) {
      const entry = this.held.get(partition);
      if (!entry || !this.holds(partition)) throw notHeld(this.options.group, partition);
      fence[partition] = entry.lease.epoch;
    }
    return fence;
  }

  /** Releases the partition now, with no hook (it was read to its end); it is never taken again by this balancer. */
  async finished(partition: string): Promise<void> {
    this.done.add(partition);
    const entry = this.held.get(partition);
    if (!entry) return;
    this.held.delete(partition);
    try {
      await this.options.store.release(entry.lease);
    } catch (error) {
      this.report(error, partition);
    }
  }

  /** Joins the group and takes a first share; then renews and rebalances every `renewEveryMs`. */
  async start(): Promise<void> {
    if (this.halted) return;
    // Even while a round hangs on the store, a lease that ran out by our clock is no longer ours.
    await this.rounds.repeat(this.options.renewEveryMs, () => this.expire());
  }

  /** Stops renewing and rebalancing (after the round under way); the leases stay held until {@link stop}. */
  async halt(): Promise<void> {
    this.halted = true;
    await this.rounds.stop();
  }

  /** Halts, waits for the hand-backs under way, then releases every lease and removes our membership. */
  async stop(): Promise<void> {
    await this.halt();
    await Promise.allSettled(this.handingBack);
    const { store } = this.options;
    const leases = [...this.held.values()].map((entry) => entry.lease);
    const membership = this.membership;
    this.held.clear();
    this.membership = undefined;
    const results = await Promise.allSettled([
      ...leases.map((lease) => store.release(lease)),
      ...(membership ? [store.remove(membership)] : []),
    ]);
    for (const result of results) if (result.status === 'rejected') this.report(result.reason);
  }

  /** A beat now (after the one under way, which may have listed partitions before the change), not at the next `renewEveryMs`. */
  refresh(): Promise<void> {
    return this.rounds.after();
  }

  private async renewAndBalance(): Promise<void> {
    this.expire();
    await Promise.all([this.keepMembership(), ...[...this.held.keys()].map((partition) => this.renew(partition))]);
    if (this.halted) return;
    await this.balance();
  }

  /** Renews our membership lease, or takes it (again: it may have been removed while we were paused). */
  private async keepMembership(): Promise<void> {
    const { store, owner } = this.options;
    try {
      if (this.membership) {
        this.membership = await store.renew(this.membership);
        if (this.membership) return;
      }
      const seen = (await store.list(this.membersGroup)).find((lease) => lease.partition === owner);
      this.membership = await store.take(this.membersGroup, owner, owner, seen);
    } catch (error) {
      this.report(error);
    }
  }

  /** Renews one lease; a failure keeps it until it runs out by our clock. */
  private async renew(partition: string): Promise<void> {
    const entry = this.held.get(partition);
    if (!entry) return;
    const asked = this.now();
    let renewed: Lease | undefined;
    try {
      renewed = await this.options.store.renew(entry.lease);
    } catch (error) {
      this.report(error, partition);
      return;
    }
    if (this.held.get(partition) !== entry) return; // lost, finished or released meanwhile
    // Run out by our clock before the answer came: the host may have stopped already, so it is lost
    // (and taken again later if it is still free).
    if (renewed && entry.validUntil > this.now()) {
      entry.lease = renewed;
      entry.validUntil = asked + this.options.ttlMs;
    } else this.lose(partition);
  }

  /** Reports as lost every lease that ran out by our clock. */
  private expire(): void {
    const now = this.now();
    for (const [partition, entry] of this.held) if (entry.validUntil <= now) this.lose(partition);
  }

  private lose(partition: string): void {
    const entry = this.held.get(partition);
    if (!entry) return;
    this.held.delete(partition);
    callHook(this.report, () => this.options.lost?.(partition, entry.lease.epoch), partition);
  }

  private async balance(): Promise<void> {
    const { store, group, owner, renewEveryMs } = this.options;
    const [listed, members, leases] = await Promise.all([this.options.partitions(), store.list(this.membersGroup), store.list(group)]);
    this.watch.observe(this.membersGroup, members);
    this.watch.observe(group, leases);
    const now = this.now();

    const wanted = [...new Set(listed)].filter((partition) => !this.done.has(partition));
    const isWanted = new Set(wanted);
    for (const [partition, entry] of this.held) if (!entry.handingBack && !isWanted.has(partition)) this.handBack(partition);

    const live = members.filter((lease) => lease.partition !== owner && this.watch.live(lease)).map((lease) => lease.partition);
    const key = [...live, owner].sort().join('\n');
    if (key !== this.members.key) this.members = { key, since: now };

    const others = new Map<string, string>();
    for (const lease of leases) {
      if (lease.owner !== undefined && lease.owner !== owner && isWanted.has(lease.partition) && this.watch.live(lease)) {
        others.set(lease.partition, lease.owner);
      }
    }
    const held = [...this.held].filter(([partition]) => isWanted.has(partition));
    const mine = held.filter(([, entry]) => !entry.handingBack).map(([partition]) => partition);
    const leaving = held.filter(([, entry]) => entry.handingBack).map(([partition]) => partition);
    const maySteal = now - this.members.since >= renewEveryMs;
    const plan = planShare({ wanted, members: live.length + 1, mine, leaving, others, maySteal });

    const rows = new Map(leases.map((lease) => [lease.partition, lease]));
    for (const partition of plan.handBack) this.handBack(partition);
    for (const partition of plan.take) await this.take(partition, rows.get(partition));
    if (plan.steal) await this.take(plan.steal.partition, rows.get(plan.steal.partition));
    await this.removeGoneMembers(members);
  }

  /** Takes a lease with a compare-and-set on the row as seen (undefined: there is none yet). */
  private async take(partition: string, seen: Lease | undefined): Promise<void> {
    const { store, group, owner, ttlMs } = this.options;
    if (this.halted || this.done.has(partition) || this.held.has(partition)) return;
    const asked = this.now();
    let lease: Lease | undefined;
    try {
      lease = await store.take(group, partition, owner, seen);
    } catch (error) {
      this.report(error, partition);
      return;
    }
    // Lost the race, or the answer came too late to use (the row says it is ours: taken again next round).
    if (!lease || asked + ttlMs <= this.now()) return;
    // Held even if halted or finished meanwhile, so that stop() or the next round releases it.
    this.held.set(partition, { lease, validUntil: asked + ttlMs, handingBack: false });
    if (!this.halted && !this.done.has(partition)) callHook(this.report, () => this.options.acquired?.(partition, lease.epoch), partition);
  }

  /** Removes the membership rows of processes gone for a TTL (partition rows stay: see the class's clean-up notes). */
  private async removeGoneMembers(members: readonly Lease[]): Promise<void> {
    const { store, owner } = this.options;
    const gone = members.filter((lease) => lease.partition !== owner && this.watch.expired(lease));
    const results = await Promise.allSettled(gone.map((lease) => store.remove(lease)));
    for (const result of results) if (result.status === 'rejected') this.report(result.reason);
  }

  /** Lets the host finish the partition, then releases its lease; it is renewed until then. */
  private handBack(partition: string): void {
    const entry = this.held.get(partition);
    if (!entry || entry.handingBack) return;
    entry.handingBack = true;
    const done: Promise<void> = Promise.resolve()
      .then(() => this.options.handBack?.(partition))
      .then(() => {
        if (this.held.get(partition) !== entry) return;
        this.held.delete(partition);
        return this.options.store.release(entry.lease);
      })
      .catch((error) => this.report(error, partition))
      .finally(() => this.handingBack.delete(done));
    this.handingBack.add(done);
  }

  private readonly report = (error: unknown, partition?: string): void => {
    this.options.onError?.(error, partition);
  };
}
