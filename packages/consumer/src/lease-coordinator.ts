import { hostname } from 'node:os';
import { type LeaseStore, RiverlogError } from '@riverlog/core';
import type { LeaseOptions, PartitionStopReason } from './types.js';

/** What the coordinator asks of the consumer. */
export interface LeaseHost {
  partitions(): Promise<string[]>;
  /** Starts a worker for the partition (after any previous one has ended). */
  startPartition(partition: string): void;
  /** Ends the partition's worker after its in-flight record and writes its checkpoint. */
  stopPartition(partition: string, reason: PartitionStopReason): Promise<void>;
  hasWorker(partition: string): boolean;
  onError(error: unknown, partition?: string): void;
}

export interface ResolvedLeaseOptions {
  readonly store: LeaseStore;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly owner: string;
}

export function resolveLeaseOptions(leases: LeaseOptions | LeaseStore): ResolvedLeaseOptions {
  const options: LeaseOptions = 'acquire' in leases ? { store: leases } : leases;
  const ttlMs = options.ttlMs ?? 10_000;
  const renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3));
  if (!(ttlMs > 0)) throw new RiverlogError('INVALID_OPTION', `createConsumer: leases.ttlMs must be > 0, got ${ttlMs}.`);
  if (!(renewEveryMs > 0 && renewEveryMs < ttlMs)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `createConsumer: leases.renewEveryMs must be > 0 and below ttlMs (${ttlMs}), got ${renewEveryMs}; renew well before a lease expires.`,
    );
  }
  const owner = options.owner ?? `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`;
  return { store: options.store, ttlMs, renewEveryMs, owner };
}

/**
 * Shares a group's partitions among the processes of the group through a
 * `LeaseStore`: one lease per partition, renewed every `renewEveryMs`,
 * taken over by another process once it expires. Each process also keeps a
 * membership lease (in the group `<group>#members`), so everyone knows how
 * many processes share the work; a process holding more than its fair share
 * (`ceil(partitions / members)`) hands the extra partitions back after their
 * in-flight records, and one holding fewer takes free or expired ones.
 */
export class LeaseCoordinator {
  private readonly held = new Set<string>();
  private readonly releasing = new Set<string>();
  private readonly validUntil = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private halted = false;

  constructor(
    private readonly options: ResolvedLeaseOptions,
    private readonly group: string,
    private readonly host: LeaseHost,
  ) {}

  private get membersGroup(): string {
    return `${this.group}#members`;
  }

  /** True while this process may still work on the partition: its lease has not run out by our clock. */
  holds(partition: string): boolean {
    return (this.validUntil.get(partition) ?? 0) > Date.now();
  }

  /** Joins the group and takes a first share of partitions. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      if (this.halted) return;
      // Even while a round hangs on the store, a lease that ran out by our clock is no longer ours.
      for (const partition of [...this.held]) if (!this.releasing.has(partition) && !this.holds(partition)) this.lose(partition);
      if (!this.ticking) this.tick().catch((error) => this.host.onError(error));
    }, this.options.renewEveryMs);
  }

  /** Stops renewing and rebalancing; leases stay held until `releaseAll`. */
  async halt(): Promise<void> {
    this.halted = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /** Gives up every lease and the membership (call once the workers have stopped and checkpoints are written). */
  async releaseAll(): Promise<void> {
    const { store, owner } = this.options;
    const partitions = [...this.held];
    this.held.clear();
    this.validUntil.clear();
    const results = await Promise.allSettled([
      ...partitions.map((partition) => store.release(this.group, partition, owner)),
      store.release(this.membersGroup, owner, owner),
    ]);
    for (const result of results) if (result.status === 'rejected') this.host.onError(result.reason);
  }

  private tick(): Promise<void> {
    const run = this.round().finally(() => {
      this.ticking = undefined;
    });
    this.ticking = run;
    return run;
  }

  private async round(): Promise<void> {
    const { store, owner, ttlMs } = this.options;
    const now = Date.now();
    try {
      await store.acquire(this.membersGroup, owner, owner, ttlMs);
    } catch (error) {
      this.host.onError(error);
    }
    for (const partition of [...this.held]) {
      let renewed: boolean;
      try {
        renewed = await store.renew(this.group, partition, owner, ttlMs);
      } catch (error) {
        // Keep the lease by our clock; the worker stops by itself if it runs out.
        this.host.onError(error, partition);
        continue;
      }
      if (renewed) this.validUntil.set(partition, now + ttlMs);
      else this.lose(partition);
    }
    if (this.halted) return;
    for (const partition of this.held) {
      if (!this.releasing.has(partition) && !this.host.hasWorker(partition) && this.holds(partition)) this.host.startPartition(partition);
    }
    try {
      await this.balance(now);
    } catch (error) {
      this.host.onError(error);
    }
  }

  private lose(partition: string): void {
    this.held.delete(partition);
    this.validUntil.delete(partition);
    this.host.stopPartition(partition, 'lease-lost').catch((error) => this.host.onError(error, partition));
  }

  private async balance(now: number): Promise<void> {
    const { store, owner, ttlMs } = this.options;
    const [partitions, members, leases] = await Promise.all([
      this.host.partitions(),
      store.list(this.membersGroup),
      store.list(this.group),
    ]);
    const owners = new Set(members.filter((member) => member.expiresAt > now).map((member) => member.owner));
    owners.add(owner);
    const target = Math.ceil(partitions.length / owners.size);
    const active = [...this.held].filter((partition) => !this.releasing.has(partition));

    if (active.length > target) {
      const extra = active.sort((a, b) => b.localeCompare(a, 'en', { numeric: true })).slice(0, active.length - target);
      for (const partition of extra) this.handBack(partition);
      return;
    }
    let count = active.length;
    for (const partition of partitions) {
      if (count >= target || this.halted) return;
      if (this.held.has(partition)) continue;
      const lease = leases.find((candidate) => candidate.partition === partition);
      if (lease && lease.owner !== owner && lease.expiresAt > now) continue;
      if (await store.acquire(this.group, partition, owner, ttlMs)) {
        this.held.add(partition);
        this.validUntil.set(partition, now + ttlMs);
        count++;
        this.host.startPartition(partition);
      }
    }
  }

  /** Stops the partition's worker, then releases its lease; renewals go on until then. */
  private handBack(partition: string): void {
    this.releasing.add(partition);
    this.host
      .stopPartition(partition, 'rebalanced')
      .then(() => {
        if (this.held.has(partition)) return this.options.store.release(this.group, partition, this.options.owner);
      })
      .catch((error) => this.host.onError(error, partition))
      .finally(() => {
        this.held.delete(partition);
        this.validUntil.delete(partition);
        this.releasing.delete(partition);
      });
  }
}
