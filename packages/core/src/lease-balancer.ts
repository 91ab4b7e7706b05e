import { hostname } from 'node:os';
import { RiverlogError } from './errors.js';
import type { LeaseStore } from './ports.js';

/**
 * The partition name of the one lease that stands for the whole group in
 * `exclusive` mode: the name `acquired`, `lost` and `handBack` get.
 *
 * @example
 * new LeaseBalancer({ ...options, exclusive: true, acquired: (lease) => lease === WHOLE_GROUP && startAll() });
 */
export const WHOLE_GROUP = '*';

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
 * What a {@link LeaseBalancer} tells its host, and asks of it. Hooks are
 * called from the balancer's rounds; a hook that throws or rejects is
 * reported to `onError`.
 *
 * @example
 * const hooks: LeaseBalancerHooks = {
 *   acquired: (partition) => workers.start(partition),
 *   lost: (partition) => workers.abort(partition),
 *   handBack: (partition) => workers.finish(partition),
 *   onError: (error, partition) => console.warn(`lease ${partition ?? ''}`, error),
 * };
 */
export interface LeaseBalancerHooks {
  /** This process took the partition's lease: start working on it. */
  acquired?(partition: string): void | Promise<void>;
  /**
   * The partition's lease ran out by our clock (the store did not answer in
   * time) or the store refused to renew it (someone else holds it): stop
   * working on it at once. Nothing is released; it is no longer ours.
   */
  lost?(partition: string): void | Promise<void>;
  /**
   * This process holds more than its fair share: finish the partition's
   * in-flight work and resolve. The lease is renewed until then and released
   * right after. Default: resolves at once.
   */
  handBack?(partition: string): Promise<void>;
  /** Talking to the store (or a hook) failed; the next round tries again. */
  onError?(error: unknown, partition?: string): void;
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
 *   partitions: () => log.partitions(),
 *   ...hooks,
 * };
 */
export interface LeaseBalancerOptions extends LeaseBalancerHooks {
  readonly store: LeaseStore;
  /** The group whose partitions are shared; membership leases live in `<group>#members`. */
  readonly group: string;
  /** This process's name in the store; see {@link defaultLeaseOwner}. */
  readonly owner: string;
  /** How long a lease lasts without renewal. */
  readonly ttlMs: number;
  /** How often leases are renewed and the share rebalanced; below `ttlMs` (a third of it is usual). */
  readonly renewEveryMs: number;
  /** The partitions to share, asked at every round (not called in `exclusive` mode). */
  readonly partitions: () => Promise<readonly string[]>;
  /** One lease ({@link WHOLE_GROUP}) for the whole group: one active process, the others on standby. */
  readonly exclusive?: boolean;
}

interface Held {
  /** Epoch ms after which the lease may be someone else's, by our clock. */
  validUntil: number;
  /** The host is finishing the partition before the lease is released. */
  handingBack: boolean;
}

/** Sorts partition names as numbers where they are numbers: '2' before '10'. */
const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * Shares a group's partitions fairly among the processes of the group through
 * a {@link LeaseStore}: one lease per partition, renewed every `renewEveryMs`,
 * taken over by another process once it expires. Each process also keeps a
 * membership lease in the group `<group>#members`, so everyone knows how many
 * processes share the work. A process takes free or expired partitions up to
 * its fair share (`ceil(partitions / processes)`) and hands back what is over
 * it, once the host has finished the partition's in-flight work.
 *
 * A lease counts as held only until it runs out by our own clock ({@link holds}):
 * if the store hangs, the partitions are reported `lost` when their time is up,
 * even before the store answers. A failing store call is reported to `onError`
 * and tried again at the next round; it never stops the round for the other
 * partitions.
 *
 * @example
 * const balancer = new LeaseBalancer({
 *   store: memoryLeaseStore(),
 *   group: 'emailer',
 *   owner: defaultLeaseOwner(),
 *   ttlMs: 10_000,
 *   renewEveryMs: 3_000,
 *   partitions: () => log.partitions(),
 *   acquired: (partition) => startWorker(partition),
 *   lost: (partition) => abortWorker(partition),
 *   handBack: (partition) => finishWorker(partition),
 *   onError: (error) => console.warn(error),
 * });
 * await balancer.start();
 * // ... on shutdown, once the workers have stopped:
 * await balancer.stop();
 */
export class LeaseBalancer {
  private readonly held = new Map<string, Held>();
  private readonly handingBack = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
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
  }

  private get membersGroup(): string {
    return `${this.options.group}#members`;
  }

  /** True while this process may still work on the partition: its lease has not run out by our clock. */
  holds(partition: string): boolean {
    return (this.held.get(partition)?.validUntil ?? 0) > Date.now();
  }

  /** The partitions held now by our clock (those being handed back included), in order. */
  owned(): string[] {
    return [...this.held.keys()].filter((partition) => this.holds(partition)).sort(byName);
  }

  /** Joins the group and takes a first share; then renews and rebalances every `renewEveryMs`. */
  async start(): Promise<void> {
    if (this.halted || this.timer) return;
    await this.beat();
    if (this.halted) return;
    this.timer = setInterval(() => {
      // Even while a round hangs on the store, a lease that ran out by our clock is no longer ours.
      this.expire();
      void this.beat();
    }, this.options.renewEveryMs);
  }

  /** Stops renewing and rebalancing (after the round under way); the leases stay held until {@link stop}. */
  async halt(): Promise<void> {
    this.halted = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** Halts, waits for the hand-backs under way, then gives up every lease and the membership. */
  async stop(): Promise<void> {
    await this.halt();
    await Promise.allSettled(this.handingBack);
    const { store, group, owner, exclusive } = this.options;
    const partitions = [...this.held.keys()];
    this.held.clear();
    const results = await Promise.allSettled([
      ...partitions.map((partition) => store.release(group, partition, owner)),
      ...(exclusive ? [] : [store.release(this.membersGroup, owner, owner)]),
    ]);
    for (const result of results) if (result.status === 'rejected') this.report(result.reason);
  }

  /** One round now; a round under way is shared rather than doubled. */
  private beat(): Promise<void> {
    if (this.halted) return Promise.resolve();
    this.round ??= this.renewAndBalance()
      .catch((error) => this.report(error))
      .finally(() => {
        this.round = undefined;
      });
    return this.round;
  }

  private async renewAndBalance(): Promise<void> {
    const { store, owner, ttlMs, exclusive } = this.options;
    this.expire();
    if (!exclusive) {
      try {
        await store.acquire(this.membersGroup, owner, owner, ttlMs);
      } catch (error) {
        this.report(error);
      }
    }
    await Promise.all([...this.held.keys()].map((partition) => this.renew(partition)));
    if (this.halted) return;
    await this.balance();
  }

  /** Renews one lease; a failure keeps it until it runs out by our clock. */
  private async renew(partition: string): Promise<void> {
    const { store, group, owner, ttlMs } = this.options;
    const lease = this.held.get(partition);
    if (!lease) return;
    const asked = Date.now();
    let renewed: boolean;
    try {
      renewed = await store.renew(group, partition, owner, ttlMs);
    } catch (error) {
      this.report(error, partition);
      return;
    }
    if (this.held.get(partition) !== lease) return; // lost or released meanwhile
    // Run out by our clock before the answer came: the host may have stopped already, so it is lost
    // (and taken again below if the store still says it is ours). Being handed back, it only needs the time.
    if (renewed && (lease.handingBack || lease.validUntil > Date.now())) lease.validUntil = asked + ttlMs;
    else this.lose(partition);
  }

  /** Reports as lost every lease that ran out by our clock, except those being handed back. */
  private expire(): void {
    const now = Date.now();
    for (const [partition, lease] of this.held) if (!lease.handingBack && lease.validUntil <= now) this.lose(partition);
  }

  private lose(partition: string): void {
    const lease = this.held.get(partition);
    if (!lease) return;
    this.held.delete(partition);
    // Already leaving: the host is finishing it; there is nothing to release any more.
    if (!lease.handingBack) this.call('lost', partition);
  }

  private async balance(): Promise<void> {
    const { store, group, owner, ttlMs, exclusive } = this.options;
    const [wanted, members, leases] = await Promise.all([
      exclusive ? [WHOLE_GROUP] : this.options.partitions(),
      exclusive ? [] : store.list(this.membersGroup),
      store.list(group),
    ]);
    const now = Date.now();
    const live = [...members, ...leases].filter((lease) => lease.owner !== owner && lease.expiresAt > now);
    const owners = new Set(live.map((lease) => lease.owner)).size + 1;
    const share = exclusive ? 1 : Math.ceil(wanted.length / owners);
    const active = [...this.held].filter(([, lease]) => !lease.handingBack).map(([partition]) => partition);

    if (active.length > share) {
      for (const partition of active.sort(byName).slice(share)) this.handBack(partition);
      return;
    }
    const taken = new Set(leases.filter((lease) => lease.owner !== owner && lease.expiresAt > now).map((lease) => lease.partition));
    let count = active.length;
    for (const partition of wanted) {
      if (count >= share || this.halted) return;
      if (this.held.has(partition) || taken.has(partition)) continue;
      const asked = Date.now();
      try {
        if (!(await store.acquire(group, partition, owner, ttlMs))) continue;
      } catch (error) {
        this.report(error, partition);
        continue;
      }
      // The answer came too late to use: the lease runs out in the store by itself, or is taken again next round.
      if (asked + ttlMs <= Date.now()) continue;
      // Held even if halted meanwhile, so that stop() releases it.
      this.held.set(partition, { validUntil: asked + ttlMs, handingBack: false });
      count++;
      if (!this.halted) this.call('acquired', partition);
    }
  }

  /** Lets the host finish the partition, then releases its lease; it is renewed until then. */
  private handBack(partition: string): void {
    const lease = this.held.get(partition);
    if (!lease) return;
    lease.handingBack = true;
    const { store, group, owner } = this.options;
    const done: Promise<void> = Promise.resolve()
      .then(() => this.options.handBack?.(partition))
      .then(() => (this.held.get(partition) === lease ? store.release(group, partition, owner) : undefined))
      .catch((error) => this.report(error, partition))
      .finally(() => {
        if (this.held.get(partition) === lease) this.held.delete(partition);
        this.handingBack.delete(done);
      });
    this.handingBack.add(done);
  }

  private call(hook: 'acquired' | 'lost', partition: string): void {
    try {
      const result = this.options[hook]?.(partition);
      if (result) result.catch((error) => this.report(error, partition));
    } catch (error) {
      this.report(error, partition);
    }
  }

  private report(error: unknown, partition?: string): void {
    this.options.onError?.(error, partition);
  }
}
