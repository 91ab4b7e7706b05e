import { LeaseBalancer, type LeaseStore } from '@riverlog/core';

export interface LeaseKeeperOptions {
  readonly leases: LeaseStore;
  readonly group: string;
  readonly owner: string;
  readonly ttlMs: number;
  /** How often leases are renewed and the share rebalanced. Default a third of `ttlMs` (at least 10 ms). */
  readonly renewEveryMs?: number;
  /** All partitions of the log. */
  readonly partitions: readonly string[];
  /** One lease for all partitions (a single active builder, the others on standby). */
  readonly exclusive: boolean;
  /** Called when the set of partitions held changes. */
  readonly onChange: (owned: ReadonlySet<string>) => void;
  /** Called when talking to the lease store failed; the next round tries again. */
  readonly onError: (error: unknown) => void;
}

/** What `owned` gives while nothing is held, in `exclusive` mode. */
const NONE: ReadonlySet<string> = new Set();

/**
 * Keeps this process's share of a view's partitions through core's
 * `LeaseBalancer`: a fair share of one lease per partition, or in `exclusive`
 * mode one lease for the whole view. A partition handed back or lost leaves
 * `owned` at once; a stale owner is harmless anyway: the view's commit guard
 * refuses its writes.
 */
export class LeaseKeeper {
  private readonly held = new Set<string>();
  /** In `exclusive` mode, what holding the view's lease gives: every partition (made once, read per batch). */
  private readonly all: ReadonlySet<string>;
  private readonly balancer: LeaseBalancer;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.all = new Set(options.partitions);
    const { leases, group, owner, ttlMs, exclusive } = options;
    const partitions = [...options.partitions];
    this.balancer = new LeaseBalancer({
      store: leases,
      group,
      owner,
      ttlMs,
      renewEveryMs: options.renewEveryMs ?? Math.min(Math.max(10, Math.floor(ttlMs / 3)), ttlMs - 1),
      partitions: async () => partitions,
      exclusive,
      acquired: (partition) => this.change(() => this.held.add(partition)),
      lost: (partition) => this.change(() => this.held.delete(partition)),
      handBack: async (partition) => this.change(() => this.held.delete(partition)),
      onError: (error) => options.onError(error),
    });
  }

  /** The partitions this process holds now (a live view: copy it to keep a snapshot). */
  get owned(): ReadonlySet<string> {
    if (!this.options.exclusive) return this.held;
    return this.held.size > 0 ? this.all : NONE;
  }

  /** Takes a first share, then renews and rebalances every third of the lease time. */
  start(): Promise<void> {
    return this.balancer.start();
  }

  /** Stops renewing and gives back every lease held. */
  async stop(): Promise<void> {
    await this.balancer.stop();
    this.held.clear();
  }

  private change(update: () => void): void {
    const before = this.held.size;
    update();
    if (this.held.size !== before) this.options.onChange(this.owned);
  }
}
