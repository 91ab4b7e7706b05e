import { defaultLeaseOwner, type LeaseStore, RiverlogError } from '@riverlog/core';
import type { LeaseOptions } from './types.js';

export interface ResolvedLeaseOptions {
  readonly store: LeaseStore;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly owner: string;
}

/** Fills in the defaults of `createConsumer`'s `leases` and checks them. */
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
  return { store: options.store, ttlMs, renewEveryMs, owner: options.owner ?? defaultLeaseOwner() };
}
