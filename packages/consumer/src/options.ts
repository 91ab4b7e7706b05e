import { type BackoffPolicy, backoffPolicy, type Catalog, type CheckpointStore, isGroupSubscribable, RiverlogError } from '@riverlog/core';
import { checkOptions, defaultLeaseOwner } from '@riverlog/core/backend';
import { validateHandlers } from './handlers.js';
import type { ConsumerHooks, ConsumerOptions, HandlerRetryOptions, LeaseOptions } from './types.js';

const KNOWN_OPTIONS: readonly (keyof ConsumerOptions<Catalog>)[] = [
  'log',
  'catalog',
  'group',
  'checkpoints',
  'handlers',
  'deadLetters',
  'retry',
  'unknownTypes',
  'onUnreadable',
  'leases',
  'checkpointEvery',
  'from',
  'batchSize',
  'hooks',
  'signal',
];
const KNOWN_LEASES: readonly (keyof LeaseOptions)[] = ['store', 'ttlMs', 'owner', 'now'];
const KNOWN_RETRY: readonly (keyof HandlerRetryOptions)[] = ['attempts', 'initialMs', 'maxMs', 'factor', 'random'];
const KNOWN_HOOKS: readonly (keyof ConsumerHooks)[] = [
  'onHandled',
  'onRetry',
  'onDeadLetter',
  'onIgnored',
  'onCheckpoint',
  'onPartitionStart',
  'onPartitionStop',
  'onError',
];

/** How a consumer shares partitions: fenced leases, all of them here, or the log's own group. */
export type AssignmentMode = 'leases' | 'local' | 'group';

export interface ResolvedOptions {
  readonly where: string;
  readonly mode: AssignmentMode;
  readonly checkpoints: CheckpointStore | undefined;
  readonly everyRecords: number;
  readonly everyMs: number;
  /** Handler tries in all, and the waits between them. */
  readonly attempts: number;
  readonly backoff: BackoffPolicy;
  /** Waits between tries of a failing log or store. */
  readonly transient: BackoffPolicy;
  readonly leases:
    | { readonly store: LeaseOptions['store']; readonly ttlMs: number; readonly owner: string; readonly now?: () => number }
    | undefined;
}

const fail = (message: string) => new RiverlogError('INVALID_OPTION', message);

/** Whether `value` is an object with a method `method` (a port, checked for plain-JavaScript callers). */
function hasMethod(value: unknown, method: string): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[method] === 'function';
}

/**
 * Checks `createConsumer`'s options at run time (unknown names with the
 * closest known one, the ports' shapes, numbers and choices) and fills in
 * the defaults.
 */
export function resolveOptions<C extends Catalog>(options: ConsumerOptions<C>): ResolvedOptions {
  checkOptions('createConsumer', options, KNOWN_OPTIONS);
  const { group } = options;
  if (typeof group !== 'string' || group.length === 0) {
    throw fail('createConsumer: group must be a non-empty string, e.g. "photo-assignment".');
  }
  const where = `createConsumer (group ${JSON.stringify(group)})`;
  if (!hasMethod(options.log, 'read')) throw fail(`${where}: log must be an EventLog (e.g. sqliteLog(...)).`);
  if (!hasMethod(options.catalog, 'decode')) throw fail(`${where}: catalog must be a catalog from defineCatalog.`);
  if (!hasMethod(options.deadLetters, 'send')) {
    throw fail(`${where}: deadLetters must be a DeadLetterSink (e.g. logDeadLetters(log) or sqliteDeadLetters(...)).`);
  }
  validateHandlers(options.catalog, options.handlers as Record<string, unknown>, where);
  if (options.hooks !== undefined) checkOptions(`${where} hooks`, options.hooks, KNOWN_HOOKS);
  oneOf(where, 'unknownTypes', options.unknownTypes, ['dead-letter', 'ignore']);
  oneOf(where, 'onUnreadable', options.onUnreadable, ['stop', 'dead-letter']);
  oneOf(where, 'from', options.from, ['earliest', 'latest']);
  if (options.batchSize !== undefined) wholeNumber(where, 'batchSize', options.batchSize);

  if (options.leases !== undefined) {
    checkOptions(`${where} leases`, options.leases, KNOWN_LEASES);
    if (!hasMethod(options.leases.store, 'take')) throw fail(`${where}: leases.store must be a LeaseStore (e.g. sqliteLeaseStore(...)).`);
  }
  const mode: AssignmentMode = options.leases ? 'leases' : isGroupSubscribable(options.log) ? 'group' : 'local';
  if (options.checkpoints !== undefined && !hasMethod(options.checkpoints, 'save')) {
    throw fail(`${where}: checkpoints must be a CheckpointStore (e.g. sqliteCheckpointStore(...)).`);
  }
  if (options.checkpoints === undefined && mode !== 'group') {
    throw fail(
      `${where}: checkpoints is required${mode === 'leases' ? ' with leases' : ` on ${options.log.uri}, which runs no consumer groups of its own`}; pass a CheckpointStore.`,
    );
  }

  const everyRecords = options.checkpointEvery?.records ?? 5000;
  const everyMs = options.checkpointEvery?.ms ?? 1000;
  if (options.checkpointEvery !== undefined) checkOptions(`${where} checkpointEvery`, options.checkpointEvery, ['records', 'ms']);
  wholeNumber(where, 'checkpointEvery.records', everyRecords);
  if (!(typeof everyMs === 'number' && everyMs > 0 && Number.isFinite(everyMs))) {
    throw fail(`${where}: checkpointEvery.ms must be a number > 0, got ${String(everyMs)}.`);
  }

  const { attempts = 5, ...backoff } = options.retry ?? {};
  if (options.retry !== undefined) checkOptions(`${where} retry`, options.retry, KNOWN_RETRY);
  wholeNumber(where, 'retry.attempts', attempts);

  let leases: ResolvedOptions['leases'];
  if (options.leases) {
    const ttlMs = options.leases.ttlMs ?? 10_000;
    if (!(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs >= 30)) {
      throw fail(`${where}: leases.ttlMs must be a number of milliseconds ≥ 30, got ${String(ttlMs)}.`);
    }
    leases = { store: options.leases.store, ttlMs, owner: options.leases.owner ?? defaultLeaseOwner() };
    if (options.leases.now) leases = { ...leases, now: options.leases.now };
  }

  return {
    where,
    mode,
    checkpoints: options.checkpoints,
    everyRecords,
    everyMs,
    attempts,
    backoff: backoffPolicy(backoff),
    transient: backoffPolicy({ initialMs: 100, maxMs: 10_000, ...(backoff.random ? { random: backoff.random } : {}) }),
    leases,
  };
}

function oneOf(where: string, name: string, value: unknown, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value as string)) {
    throw fail(`${where}: ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(value) ?? String(value)}.`);
  }
}

function wholeNumber(where: string, name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw fail(`${where}: ${name} must be a whole number ≥ 1, got ${String(value)}.`);
  }
}
