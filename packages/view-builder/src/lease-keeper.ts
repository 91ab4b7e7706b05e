import type { LeaseStore } from '@riverlog/core';

/** The lease of the whole view, in `exclusive` mode. */
export const WHOLE_VIEW = '*';
/** The prefix of the lease that marks a process as one of a view's builders. */
const MEMBER = 'member:';

export interface LeaseKeeperOptions {
  readonly leases: LeaseStore;
  readonly group: string;
  readonly owner: string;
  readonly ttlMs: number;
  /** All partitions of the log. */
  readonly partitions: readonly string[];
  /** One lease for all partitions (a single active builder, the others on standby). */
  readonly exclusive: boolean;
  /** Called when the set of partitions held changes. */
  readonly onChange: (owned: ReadonlySet<string>) => void;
  /** Called when talking to the lease store failed; the next beat tries again. */
  readonly onError: (error: unknown) => void;
}

/** What `owned` gives while nothing is held, in `exclusive` mode. */
const NONE: ReadonlySet<string> = new Set();

/**
 * Keeps this process's share of a view's partitions: renews what it holds,
 * takes free or expired partitions up to a fair share (partitions ÷ live
 * owners, rounded up), and gives back what is over that share so a new
 * process gets some. A stale owner is harmless: the view's commit guard
 * refuses its writes.
 */
export class LeaseKeeper {
  private readonly held = new Set<string>();
  /** In `exclusive` mode, what holding the view's lease gives: every partition (made once, read per batch). */
  private readonly all: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.all = new Set(options.partitions);
  }

  /** The partitions this process holds now (a live view: copy it to keep a snapshot). */
  get owned(): ReadonlySet<string> {
    if (!this.options.exclusive) return this.held;
    return this.held.has(WHOLE_VIEW) ? this.all : NONE;
  }

  /** Takes a first share, then beats every third of the lease time. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(10, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  /** One heartbeat; concurrent calls share the one in progress. */
  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.running) {
      this.running = this.balance()
        .catch((error) => this.options.onError(error))
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  /** Stops beating and gives back every lease held. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    const { leases, group, owner } = this.options;
    const held = [...this.held];
    if (!this.options.exclusive) held.push(`${MEMBER}${owner}`);
    this.held.clear();
    await Promise.all(held.map((partition) => leases.release(group, partition, owner).catch(() => {})));
  }

  private async balance(): Promise<void> {
    const { leases, group, owner, ttlMs, exclusive } = this.options;
    const before = new Set(this.held);
    for (const partition of [...this.held]) {
      if (!(await leases.renew(group, partition, owner, ttlMs))) this.held.delete(partition);
    }
    const wanted = exclusive ? [WHOLE_VIEW] : this.options.partitions;
    // A membership lease makes this process count among the owners before it holds any partition.
    if (!exclusive) await leases.acquire(group, `${MEMBER}${owner}`, owner, ttlMs);
    const now = Date.now();
    const live = (await leases.list(group)).filter((lease) => lease.owner !== owner && lease.expiresAt > now);
    const owners = new Set(live.map((lease) => lease.owner)).size + 1;
    const share = exclusive ? 1 : Math.ceil(wanted.length / owners);
    const takenByOthers = new Set(live.filter((lease) => wanted.includes(lease.partition)).map((lease) => lease.partition));
    for (const partition of wanted) {
      if (this.stopped || this.held.size >= share) break;
      if (this.held.has(partition) || takenByOthers.has(partition)) continue;
      if (await leases.acquire(group, partition, owner, ttlMs)) this.held.add(partition);
    }
    const free = wanted.length - takenByOthers.size - this.held.size;
    if (!exclusive && this.held.size > share && free === 0) {
      // Another owner has less than its share: hand back the surplus for it to take.
      for (const partition of [...this.held].slice(share)) {
        await leases.release(group, partition, owner);
        this.held.delete(partition);
      }
    }
    if (this.stopped) return;
    if (before.size !== this.held.size || [...before].some((p) => !this.held.has(p))) this.options.onChange(this.owned);
  }
}
