import type { Lease } from './ports.js';

interface Sighting {
  readonly epoch: number;
  readonly counter: number;
  /** Our clock when we first saw this epoch and counter. */
  readonly since: number;
}

/**
 * Judges leases expired the way the ports require: by the observer's own
 * clock. It remembers, per lease, its epoch and counter and the local time
 * it first saw them; a lease whose counter has not moved for `ttlMs` since
 * then has expired. No time written by another host is ever read, so a
 * clock that runs ahead or behind changes nothing; only durations on one
 * clock are compared.
 *
 * Safety: a holder's lease is valid until (the start of its last successful
 * take or renew) + `ttlMs` on its clock. We note a counter at the time the
 * list that showed it *returned*, which is after that write, hence after its
 * start: so we judge it expired only after the holder stopped counting it as
 * valid (clocks running at the same rate).
 *
 * @example
 * const watch = new LeaseWatch(10_000, () => performance.now());
 * const leases = await store.list('views');
 * watch.observe('views', leases); // right after the list returned
 * leases.filter((lease) => watch.expired(lease));
 */
export class LeaseWatch {
  private readonly groups = new Map<string, Map<string, Sighting>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** Notes every lease of one list of `group` (call it as soon as the list returned); rows gone from it are forgotten. */
  observe(group: string, leases: readonly Lease[]): void {
    const at = this.now();
    const before = this.groups.get(group) ?? new Map<string, Sighting>();
    const after = new Map<string, Sighting>();
    for (const lease of leases) {
      const seen = before.get(lease.partition);
      const same = seen !== undefined && seen.epoch === lease.epoch && seen.counter === lease.counter;
      after.set(lease.partition, same ? seen : { epoch: lease.epoch, counter: lease.counter, since: at });
    }
    this.groups.set(group, after);
  }

  /** True when the lease's counter has not moved for `ttlMs` on our clock (a lease never observed has not expired). */
  expired(lease: Lease): boolean {
    const seen = this.groups.get(lease.group)?.get(lease.partition);
    if (!seen || seen.epoch !== lease.epoch || seen.counter !== lease.counter) return false;
    return this.now() - seen.since >= this.ttlMs;
  }

  /** True when the lease has an owner whose counter moved within `ttlMs` on our clock. */
  live(lease: Lease): boolean {
    return lease.owner !== undefined && !this.expired(lease);
  }
}
