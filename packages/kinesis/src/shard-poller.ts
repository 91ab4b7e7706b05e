import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { type BackoffPolicy, RiverlogError } from '@riverlog/core';
import { sleep } from '@riverlog/core/backend';
import { describeError, errorName, isExpiredIterator, isRetriableRead } from './aws-errors.js';
import { DEFAULT_READ_LIMITS, type ReadLimits, ShardBudget } from './read-budget.js';
import type { ShardPage, ShardStart } from './shard-reader.js';
import { type StreamRef, streamParams } from './stream.js';

/** How a shard is polled: set by the first reader of the shard in the process. */
export interface PollSettings {
  readonly limits: Required<ReadLimits>;
  /** The wait at the tip before the same position is polled again. */
  readonly pollIntervalMs: number;
  /** GetRecords' Limit: the most records one call brings (≤ 10,000). */
  readonly recordsPerCall: number;
  /**
   * How long an AT_TIMESTAMP GetShardIterator is waited for before the start
   * is read from TRIM_HORIZON instead; undefined: no fallback. Set only for a
   * loopback endpoint (see `AT_TIMESTAMP_PATIENCE_MS`).
   */
  readonly atTimestampPatienceMs: number | undefined;
}

/** What a fetch needs from the reader asking: every reader brings its log's client. */
export interface FetchContext {
  readonly client: KinesisClient;
  readonly stream: StreamRef;
  readonly uri: string;
  readonly retry: BackoffPolicy;
}

/** A page and when its GetRecords call was made; `nextKey` is the cursor after it (undefined: the shard ended). */
export interface Fetched {
  readonly page: ShardPage;
  readonly requestedAt: number;
  readonly nextKey: string | undefined;
}

/** One position in a shard, shared by every reader standing there. */
export interface Cursor {
  readonly key: string;
  /** Where a new iterator for this position starts (moves on for a LATEST cursor that saw empty pages). */
  start: ShardStart;
  iterator: string | undefined;
  iteratorAt: number;
  pending: Promise<Fetched> | undefined;
  last: Fetched | undefined;
  holders: number;
  releasedAt: number;
  /** Aborted when nobody holds the cursor any more: its waits end. */
  controller: AbortController;
  /** Ends the wait at the tip early: a reader came that has not seen the last page (it needs a fresh one). */
  hurry: AbortController | undefined;
  /** Set when an AT_TIMESTAMP start is read from TRIM_HORIZON (see renewIterator); its sources drop the older records. */
  arrivedFrom: number | undefined;
}

/** Iterators live 5 minutes; renew a little before. */
const ITERATOR_TTL_MS = 270_000;
/** How long a cursor nobody holds keeps its page for a reader arriving just after. */
const KEEP_RELEASED_MS = 2_000;
/** Cursors kept without holders, at most. */
const MAX_RELEASED = 16;
/**
 * kinesalite never answers an AT_TIMESTAMP GetShardIterator when no record
 * of the shard arrived at or after the time: after this long such a start is
 * read from TRIM_HORIZON, dropping what arrived before the time. Only for
 * emulators on a loopback endpoint: on Kinesis the call is answered, and a
 * fallback fired by slow SDK retries would read a whole retained shard.
 */
export const AT_TIMESTAMP_PATIENCE_MS = 3_000;
/** GetShardIterator's own limit: 5 calls per second per shard. */
const ITERATOR_CALLS_PER_SECOND = 5;

/** The cursor key of a start: readers with equal keys share every call. */
export function cursorKey(start: ShardStart, unique: string): string {
  switch (start.type) {
    case 'TRIM_HORIZON':
      return 'trim';
    case 'AFTER_SEQUENCE_NUMBER':
      return `after:${start.sequenceNumber}`;
    case 'AT_SEQUENCE_NUMBER':
      return `at:${start.sequenceNumber}`;
    case 'AT_TIMESTAMP':
      return `time:${start.timestamp.getTime()}`;
    case 'LATEST':
      // The tip moves: a later read from 'latest' must not see what an earlier one's iterator sees.
      return `latest:${unique}`;
  }
}

/**
 * The one poller of a shard in this process: every reader of the shard
 * (any log instance on the same stream at the same endpoint, whatever its client) goes
 * through it. It keeps the shard's read budget (GetRecords calls per second
 * and bytes per second) for all of them, and readers standing at the same
 * position (cursor) share each GetRecords call and its page: several
 * consumers and views at the tip poll once, not once each.
 */
export class ShardPoller {
  private readonly cursors = new Map<string, Cursor>();
  private readonly budget: ShardBudget;
  private readonly iteratorBudget = new ShardBudget({
    callsPerSecond: ITERATOR_CALLS_PER_SECOND,
    bytesPerSecond: Number.POSITIVE_INFINITY,
  });

  constructor(
    readonly shardId: string,
    readonly settings: PollSettings,
    private readonly onIdle: () => void,
  ) {
    this.budget = new ShardBudget(settings.limits);
  }

  /** Takes a share of the cursor at `key` (made with `start` when new). */
  hold(key: string, start: ShardStart): Cursor {
    let cursor = this.cursors.get(key);
    if (!cursor) {
      cursor = {
        key,
        start,
        iterator: undefined,
        iteratorAt: 0,
        pending: undefined,
        last: undefined,
        holders: 0,
        releasedAt: 0,
        controller: new AbortController(),
        arrivedFrom: undefined,
        hurry: undefined,
      };
      this.cursors.set(key, cursor);
    }
    if (cursor.controller.signal.aborted) cursor.controller = new AbortController();
    cursor.holders++;
    return cursor;
  }

  release(cursor: Cursor): void {
    cursor.holders--;
    if (cursor.holders > 0) return;
    cursor.releasedAt = Date.now();
    cursor.controller.abort();
    this.sweep();
  }

  /** Whether nobody holds a cursor of this shard. */
  get idle(): boolean {
    for (const cursor of this.cursors.values()) if (cursor.holders > 0) return false;
    return true;
  }

  /** When the shard was last called (0: never): the budget outlives its readers for a second. */
  get lastCallAt(): number {
    return this.budget.lastCallAt;
  }

  /**
   * A page at `cursor` that the asking reader has not seen: one with
   * records (a reader moves past those), the shard's end, or an empty page
   * fetched after `after` (ms). Joins the call under way when there is one.
   * Resolves `undefined` when `signal` aborts.
   */
  async fetch(cursor: Cursor, after: number, context: FetchContext, signal: AbortSignal): Promise<Fetched | undefined> {
    const acceptable = (fetched: Fetched | undefined): fetched is Fetched =>
      fetched !== undefined && (fetched.page.records.length > 0 || fetched.page.ended || fetched.requestedAt > after);
    for (;;) {
      if (signal.aborted) return undefined;
      if (acceptable(cursor.last)) return cursor.last;
      if (!cursor.pending) {
        const pending = this.poll(cursor, context);
        cursor.pending = pending;
        pending.then(
          () => {
            if (cursor.pending === pending) cursor.pending = undefined;
          },
          () => {
            if (cursor.pending === pending) cursor.pending = undefined;
          },
        );
      }
      // A reader that started after the last page was fetched cannot use it: no waiting out the tip interval for it.
      const stale = cursor.last as Fetched | undefined;
      if (stale && after > stale.requestedAt) cursor.hurry?.abort();
      const outcome = await untilAborted(cursor.pending, signal);
      // Undefined without our signal: a poll its former readers gave up; poll again.
      if (outcome !== undefined && acceptable(outcome)) return outcome;
    }
  }

  private sweep(): void {
    const now = Date.now();
    const released = [...this.cursors.values()].filter((c) => c.holders === 0 && c.pending === undefined);
    released.sort((a, b) => a.releasedAt - b.releasedAt);
    released.forEach((cursor, i) => {
      if (now - cursor.releasedAt > KEEP_RELEASED_MS || released.length - i > MAX_RELEASED) this.cursors.delete(cursor.key);
    });
    if (this.cursors.size === 0 || this.idle) this.onIdle();
  }

  /** One GetRecords at the cursor (after the idle wait at the tip), retrying what is transient. */
  private async poll(cursor: Cursor, context: FetchContext): Promise<Fetched> {
    const signal = cursor.controller.signal;
    const last = cursor.last;
    if (last && last.page.records.length === 0 && !last.page.ended) {
      const wait = last.requestedAt + this.settings.pollIntervalMs - Date.now();
      if (wait > 0) {
        const hurry = new AbortController();
        cursor.hurry = hurry;
        await sleep(wait, AbortSignal.any([signal, hurry.signal]));
        cursor.hurry = undefined;
      }
    }
    for (let attempt = 1; ; attempt++) {
      try {
        if (cursor.iterator === undefined || Date.now() - cursor.iteratorAt > ITERATOR_TTL_MS)
          await this.renewIterator(cursor, context, signal);
        if (!(await this.budget.take(signal))) throw new Aborted();
        const requestedAt = Date.now();
        const output = await context.client.send(
          new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: this.settings.recordsPerCall }),
          { abortSignal: signal },
        );
        return this.took(cursor, output, requestedAt);
      } catch (error) {
        if (error instanceof Aborted || signal.aborted) throw new Aborted();
        if (isExpiredIterator(error)) {
          cursor.iterator = undefined;
          continue;
        }
        if (!isRetriableRead(error)) throw this.failed(cursor, context, error);
        if (!(await sleep(context.retry.delay(attempt), signal))) throw new Aborted();
      }
    }
  }

  private async renewIterator(cursor: Cursor, context: FetchContext, signal: AbortSignal): Promise<void> {
    if (!(await this.iteratorBudget.take(signal))) throw new Aborted();
    const start = cursor.start;
    const request = (type: ShardStart['type'], abortSignal: AbortSignal) =>
      context.client.send(
        new GetShardIteratorCommand({
          ...streamParams(context.stream),
          ShardId: this.shardId,
          ShardIteratorType: type,
          ...(start.type === 'AT_SEQUENCE_NUMBER' || start.type === 'AFTER_SEQUENCE_NUMBER'
            ? { StartingSequenceNumber: start.sequenceNumber }
            : {}),
          ...(type === 'AT_TIMESTAMP' && start.type === 'AT_TIMESTAMP' ? { Timestamp: start.timestamp } : {}),
        }),
        { abortSignal },
      );
    let iterator: string | undefined;
    const patienceMs = this.settings.atTimestampPatienceMs;
    if (start.type === 'AT_TIMESTAMP' && cursor.arrivedFrom === undefined) {
      const patience = patienceMs === undefined ? new AbortController().signal : AbortSignal.timeout(patienceMs);
      try {
        ({ ShardIterator: iterator } = await request('AT_TIMESTAMP', AbortSignal.any([signal, patience])));
      } catch (error) {
        if (signal.aborted) throw error;
        if (isFutureTimestamp(error)) {
          // A time after Kinesis's now (or this host's clock ahead of it): what arrives from now on; sources drop what arrives before the time.
          ({ ShardIterator: iterator } = await request('LATEST', signal));
        } else if (patience.aborted) {
          cursor.arrivedFrom = start.timestamp.getTime();
          ({ ShardIterator: iterator } = await request('TRIM_HORIZON', signal));
        } else throw error;
      }
    } else {
      ({ ShardIterator: iterator } = await request(cursor.arrivedFrom === undefined ? start.type : 'TRIM_HORIZON', signal));
    }
    cursor.iterator = iterator;
    cursor.iteratorAt = Date.now();
  }

  private took(
    cursor: Cursor,
    output: {
      Records?: Fetched['page']['records'];
      NextShardIterator?: string;
      MillisBehindLatest?: number;
      ChildShards?: Fetched['page']['childShards'];
    },
    requestedAt: number,
  ): Fetched {
    const records = output.Records ?? [];
    let bytes = 0;
    for (const record of records) bytes += record.Data?.length ?? 0;
    this.budget.spend(bytes);
    const next = output.NextShardIterator ?? undefined;
    const ended = next === undefined;
    const millisBehindLatest = output.MillisBehindLatest;
    const atTip = ended || ((millisBehindLatest ?? 0) === 0 && records.length < this.settings.recordsPerCall);
    const page: ShardPage = {
      records,
      millisBehindLatest,
      atTip,
      ended,
      ...(output.ChildShards && output.ChildShards.length > 0 ? { childShards: output.ChildShards } : {}),
      bytes,
    };
    let nextKey: string | undefined = cursor.key;
    const lastRecord = records[records.length - 1];
    if (ended) nextKey = undefined;
    else if (lastRecord?.SequenceNumber !== undefined) {
      nextKey = `after:${lastRecord.SequenceNumber}`;
      const following = this.hold(nextKey, { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastRecord.SequenceNumber });
      if (following.iterator === undefined) {
        following.iterator = next;
        following.iteratorAt = Date.now();
      }
      // Held only while made: the readers moving there hold it.
      following.holders--;
      if (following.holders === 0) following.releasedAt = Date.now();
    } else {
      cursor.iterator = next;
      cursor.iteratorAt = Date.now();
      // A LATEST cursor renewed later must not jump past records that arrived after this empty page.
      if (cursor.start.type === 'LATEST') cursor.start = { type: 'AT_TIMESTAMP', timestamp: new Date(requestedAt) };
    }
    const fetched: Fetched = { page, requestedAt, nextKey };
    cursor.last = fetched;
    return fetched;
  }

  private failed(cursor: Cursor, context: FetchContext, error: unknown): RiverlogError {
    const where = cursor.key === 'trim' ? 'from its start' : cursor.key.replace(':', ' ');
    return new RiverlogError(
      'LOG_READ_FAILED',
      `Reading shard ${this.shardId} of ${context.uri} (${where}) failed: ${describeError(error)}. Check that the stream exists and that this role may call GetShardIterator and GetRecords on it.`,
      { cause: error },
    );
  }
}

/** GetShardIterator's answer to an AT_TIMESTAMP after the server's clock. */
function isFutureTimestamp(error: unknown): boolean {
  return errorName(error) === 'InvalidArgumentException' && /greater than the currentTimestamp/i.test(describeError(error));
}

/** A poll given up because nobody waits for it any more. */
class Aborted extends Error {
  constructor() {
    super('aborted');
  }
}

/** The promise's value, or undefined once `signal` aborts (the promise goes on for others); an `Aborted` rejection is undefined too. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (error instanceof Aborted) resolve(undefined);
        else reject(error);
      },
    );
  });
}

/** Every shard poller of this process, by endpoint, stream and shard (see `pollerScope`). */
const pollers = new Map<string, ShardPoller>();

/** The process's poller of a shard, made with `settings` by the first reader. */
export function shardPoller(scope: string, shardId: string, settings: PollSettings): ShardPoller {
  const key = `${scope}\u0000${shardId}`;
  let poller = pollers.get(key);
  if (!poller) {
    const made: ShardPoller = new ShardPoller(shardId, settings, () => {
      // Kept a second after its last call, so a reader arriving right after still counts against the budget.
      const forget = () => {
        if (pollers.get(key) === made && made.idle) {
          if (Date.now() - made.lastCallAt >= 1000) pollers.delete(key);
          else setTimeout(forget, 1000).unref();
        }
      };
      forget();
    });
    poller = made;
    pollers.set(key, poller);
  }
  return poller;
}

/** Read budgets of the process's pollers, for tests: how many shards are polled now. */
export function pollerCount(): number {
  return pollers.size;
}

export { DEFAULT_READ_LIMITS };
