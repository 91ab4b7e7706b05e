import type { BackoffOptions, BackoffPolicy, EventLog, LeaseStore, PositionMap, ViewStore } from '@riverlog/core';
import { backoffPolicy, RiverlogError } from '@riverlog/core';
import { checkOptions, defaultLeaseOwner } from '@riverlog/core/backend';
import type { OnUnreadable } from './decode.js';
import type { View } from './define-view.js';
import type { ViewRetry } from './retries.js';
import type { SkipReporting } from './skips.js';

/** What one commit of a view did. */
export interface ViewCommitInfo {
  readonly table: string;
  /** The checkpoint the commit reached, for the partitions it took records of. */
  readonly to: PositionMap;
  /** Records read, events folded, records skipped (reported), duplicates left out, rows written. */
  readonly records: number;
  readonly applied: number;
  readonly skipped: number;
  readonly duplicates: number;
  readonly rows: number;
}

/** Sharing a view's partitions among processes through fenced leases. */
export interface ViewLeases {
  readonly store: LeaseStore;
  /** How long a lease lasts without renewal, on each process's own clock. Default 10,000 ms; renewed every third of it. */
  readonly ttlMs?: number;
  /** This process's name in the leases. Default `<hostname>/<pid>/<random>`. */
  readonly owner?: string;
  /** This process's clock for lease durations (ms, any origin), for tests of clock skew. Default `performance.now()`. */
  readonly now?: () => number;
}

export interface RunViewOptions extends SkipReporting {
  readonly log: EventLog;
  readonly store: ViewStore;
  /** Share the view's partitions among processes through fenced leases. Without it this process builds every partition. */
  readonly leases?: ViewLeases;
  /** Largest batch read from the log at once (records of one partition). Default 1,000. */
  readonly batchSize?: number;
  /**
   * Most records folded into one commit, and most rows one commit writes
   * (within the store's `limits.maxRowsPerCommit`). Batches that are already
   * there are folded together (any partitions) up to this many, then
   * committed at once; when the log has nothing more right now, what is
   * folded is committed. Default 1,000: a commit is synchronous in SQLite,
   * and a bigger one keeps timers (lease renewal) waiting.
   */
  readonly commitSize?: number;
  /**
   * An event of a type the view folds that this catalog cannot read yet (a
   * newer version, a payload that fails its schema): `'stop'` (default)
   * stops its partition before it, visibly (status, `onError`, dead letter),
   * until a process with the new catalog resumes it; `'dead-letter'` sends it
   * to the dead letter (`onSkip` / `deadLetters`) and goes on.
   */
  readonly onUnreadable?: OnUnreadable;
  /** The backoff of transient failures of the log or store, retried for as long as they last. */
  readonly retry?: BackoffOptions;
  /** Stops the view, like `stop()`. */
  readonly signal?: AbortSignal;
  /**
   * Once caught up, point the view's alias at this version when the alias is
   * unset or names an older version. Default true.
   */
  readonly switchAlias?: boolean;
  /** Called after each commit. */
  readonly onCommit?: (info: ViewCommitInfo) => void;
  /**
   * Called with the error that stopped the view (`done` rejects with it too),
   * or, with its `partition`, with the error that stopped one partition (an
   * unreadable event).
   */
  readonly onError?: (error: unknown, partition?: string) => void;
  /** Called for each transient failure that will be retried. */
  readonly onRetry?: (retry: ViewRetry) => void;
}

/**
 * Records (and row writes) one commit takes by default. A SQLite commit of
 * 10,000 rows runs 100–400 ms without yielding, so that timers (lease
 * renewal, a 100 ms timer within 50 ms) would fire late; 1,000 take ~10 ms.
 */
export const DEFAULT_COMMIT_SIZE = 1_000;

/** The names `runView` takes. */
export const RUN_OPTIONS: readonly (keyof RunViewOptions)[] = [
  'log',
  'store',
  'leases',
  'batchSize',
  'commitSize',
  'onUnreadable',
  'retry',
  'signal',
  'switchAlias',
  'onCommit',
  'onError',
  'onRetry',
  'onSkip',
  'deadLetters',
];
const KNOWN_LEASES: readonly (keyof ViewLeases)[] = ['store', 'ttlMs', 'owner', 'now'];

/** Options with defaults filled in and checked. */
export interface ResolvedOptions {
  readonly batchSize: number;
  readonly commitSize: number;
  readonly onUnreadable: OnUnreadable;
  readonly policy: BackoffPolicy;
  readonly owner: string;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
}

function whole(where: string, name: string, value: unknown, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RiverlogError('INVALID_OPTION', `${where}: ${name} must be a whole number ≥ ${min}, got ${String(value)}.`);
  }
  return value as number;
}

function needs(where: string, name: string, value: unknown, method: string): void {
  if (value === null || typeof value !== 'object' || typeof (value as Record<string, unknown>)[method] !== 'function') {
    throw new RiverlogError('INVALID_OPTION', `${where}: ${name} must be given (an object with ${method}()), got ${String(value)}.`);
  }
}

/**
 * Checks `runView`'s options at run time, for plain-JavaScript callers: an
 * unknown or misspelled name is `INVALID_OPTION` naming the closest known
 * one; values are checked too. Returns the defaults filled in.
 */
export function resolveOptions(
  where: string,
  view: View,
  options: RunViewOptions,
  known: readonly string[] = RUN_OPTIONS,
): ResolvedOptions {
  checkOptions(where, options, known);
  needs(where, 'log', options.log, 'read');
  needs(where, 'store', options.store, 'commit');
  if (options.leases !== undefined) {
    checkOptions(`${where} leases`, options.leases, KNOWN_LEASES);
    needs(where, 'leases.store', options.leases.store, 'take');
  }
  const onUnreadable = options.onUnreadable ?? 'stop';
  if (onUnreadable !== 'stop' && onUnreadable !== 'dead-letter') {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: onUnreadable must be 'stop' or 'dead-letter', got ${JSON.stringify(onUnreadable)}.`,
    );
  }
  const ttlMs = whole(where, 'leases.ttlMs', options.leases?.ttlMs ?? 10_000, 30);
  return {
    batchSize: whole(where, 'batchSize', options.batchSize ?? 1000, 1),
    commitSize: whole(where, 'commitSize', options.commitSize ?? DEFAULT_COMMIT_SIZE, 1),
    onUnreadable,
    policy: backoffPolicy(options.retry),
    owner: options.leases?.owner ?? defaultLeaseOwner(),
    ttlMs,
    renewEveryMs: Math.max(10, Math.floor(ttlMs / 3)),
  };
}
