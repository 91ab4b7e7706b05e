import { type KinesisClient, PutRecordsCommand, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { type BackoffPolicy, type Envelope, EventTooLargeError, type Position, RiverlogError } from '@riverlog/core';
import {
  type DedupeWindow,
  encodeKinesisAggregate,
  envelopeText,
  invalidEnvelope,
  KinesisAggregateSize,
  sleep,
} from '@riverlog/core/backend';
import { describeError, isRetriableWrite, provesNotWritten } from './aws-errors.js';
import { type StreamRef, streamParams } from './stream.js';
import { chargedBytes, PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_RECORDS, partitionKeyOf } from './wire.js';

export interface AppenderOptions {
  readonly client: KinesisClient;
  readonly stream: StreamRef;
  readonly uri: string;
  /** The stream's largest record: data and partition key together. */
  readonly maxRecordBytes: number;
  readonly maxEventBytes: number;
  /** Pack several events of one subject into one Kinesis record (KPL aggregation format). */
  readonly aggregate: boolean;
  readonly window: DedupeWindow;
  /** Waits between rounds with throttled records, and between attempts of a throttled call. */
  readonly retry: BackoffPolicy;
  /** Aborted when the log closes: waits end and what is not accepted yet fails. */
  readonly closing: AbortSignal;
  /** How long a run keeps retrying throttled records; undefined: for as long as the throttling lasts. */
  readonly appendTimeoutMs: number | undefined;
}

/** One event of an append, measured: its bytes are what is sent. */
interface Item {
  readonly job: Job;
  readonly index: number;
  readonly event: Envelope;
  readonly data: Uint8Array;
  readonly key: string;
  /**
   * A call that carried it lost its answer (network error, abort, 5xx, or a
   * retry inside the SDK): it may be in the stream though not accepted.
   */
  maybeWritten: boolean;
}

/** What one Kinesis record carries: one event, or several of one subject aggregated. */
interface Unit {
  readonly items: readonly Item[];
  readonly key: string;
  readonly data: Uint8Array;
  /** Data and partition key: what the call's byte limit counts. */
  readonly bytes: number;
}

/** One `append` call waiting for its positions. */
interface Job {
  readonly items: Item[];
  readonly positions: (Position | undefined)[];
  /**
   * Subjects (partition keys) of which an earlier call's event failed while
   * this call waited: its events of these subjects are not sent, or they
   * would land before the failed one and before the caller's retry of it.
   */
  blocked: ReadonlySet<string> | undefined;
  readonly resolve: (positions: Position[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Why a run stopped before every event was accepted. */
interface RunFailure {
  readonly cause: unknown;
  readonly item: Item | undefined;
}

const MAX_CALLS_IN_FLIGHT = 4;

/**
 * Writes appends through PutRecords, keeping each subject's order.
 *
 * The rule: **at most one record per subject (partition key) in flight**.
 * Each round sends the first unaccepted record of every subject with
 * records left, packed into as few PutRecords calls as the limits allow
 * (500 records, 10 MiB of data and keys per call; calls of one round run in
 * parallel: they hold different subjects). A record Kinesis refused
 * (ProvisionedThroughputExceeded, KMS throttling, InternalFailure) stays at
 * the head of its subject and goes in the next round, after a backoff wait
 * with jitter; its subject's later records wait behind it. So a subject's
 * later record is never accepted before its earlier one, whatever fails
 * when. With `aggregate`, a subject's pending events are packed into as few
 * Kinesis records as its record limit allows: usually one round for all.
 *
 * Calls that arrive while a run is under way are queued and written
 * together in the next run, in call order; each resolves with its own
 * positions. Throttling is retried for as long as it lasts (until the log
 * closes); any other failure ends the run: calls whose events were all
 * accepted resolve, the others reject with `KinesisAppendError` (each
 * event accepted, refused or unknown: see `KinesisAppendOutcome`), and their
 * accepted events are remembered, so appending the same events again
 * returns their positions instead of writing them twice. Calls that were
 * already queued when a run failed send nothing of the subjects that failed
 * in it (they reject for those events): a later event of a subject is never
 * accepted before an earlier one, nor before the caller's retry of it.
 */
export class KinesisAppender {
  private queue: Job[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: AppenderOptions) {}

  /** Refuses events that are not envelopes or are oversize at once (nothing sent); otherwise queues them. */
  append(events: readonly Envelope[]): Promise<Position[]> {
    const job: Job = {
      items: [],
      positions: new Array<Position | undefined>(events.length).fill(undefined),
      blocked: undefined,
      resolve: () => {},
      reject: () => {},
    };
    for (const [index, event] of events.entries()) job.items.push(this.measure(job, event, index));
    if (events.length === 0) return Promise.resolve([]);
    return new Promise<Position[]>((resolve, reject) => {
      Object.assign(job, { resolve, reject });
      this.queue.push(job);
      this.kick();
    });
  }

  /** Resolves once every queued append settled (after close: failed fast). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running || this.queue.length === 0) return;
    const jobs = this.queue.splice(0);
    this.running = this.run(jobs).finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private measure(job: Job, event: Envelope, index: number): Item {
    const invalid = invalidEnvelope(event, index);
    if (invalid) throw invalid;
    const data = Buffer.from(envelopeText(event), 'utf8');
    const key = partitionKeyOf(event.subject);
    const charged = chargedBytes(data.length, Buffer.byteLength(key, 'utf8'));
    if (charged > this.options.maxEventBytes) throw new EventTooLargeError(event.type, event.id, charged, this.options.maxEventBytes);
    return { job, index, event, data, key, maybeWritten: false };
  }

  private async run(jobs: readonly Job[]): Promise<void> {
    const { window } = this.options;
    const firstOfId = new Map<string, Item>();
    const repeats: [Item, Item][] = [];
    const bySubject = new Map<string, Item[]>();
    // A subject blocked for one call is blocked for every later call of this run too.
    const blocked = new Set<string>();
    let firstBlocked: Item | undefined;
    for (const job of jobs) {
      for (const key of job.blocked ?? []) blocked.add(key);
      for (const item of job.items) {
        const known = window.get(item.event.id);
        const first = firstOfId.get(item.event.id);
        if (known) job.positions[item.index] = known;
        else if (blocked.has(item.key)) firstBlocked ??= item;
        else if (first) repeats.push([item, first]);
        else {
          firstOfId.set(item.event.id, item);
          const queue = bySubject.get(item.key);
          if (queue) queue.push(item);
          else bySubject.set(item.key, [item]);
        }
      }
    }
    const units = new Map<string, Unit[]>();
    for (const [key, items] of bySubject) units.set(key, this.unitsOf(key, items));
    let failure: RunFailure | undefined;
    try {
      failure = await this.rounds(units);
    } catch (error) {
      failure = { cause: error, item: undefined };
    }
    for (const [item, first] of repeats) {
      const position = first.job.positions[first.index];
      if (position) item.job.positions[item.index] = position;
      item.maybeWritten = first.maybeWritten;
    }
    const failedKeys = new Set<string>();
    for (const job of jobs) for (const item of job.items) if (job.positions[item.index] === undefined) failedKeys.add(item.key);
    // Calls that arrived while this run went on are the next run: they must not overtake what failed here.
    if (failedKeys.size > 0) for (const waiting of this.queue) waiting.blocked = failedKeys;
    const blockedFailure: RunFailure = {
      cause: new Error(
        'an earlier append of the same subject failed while this call waited, so this call did not send its events of that subject (they would have landed before the failed one); append them again after it',
      ),
      item: firstBlocked,
    };
    for (const job of jobs) {
      if (job.positions.every((position) => position !== undefined)) job.resolve(job.positions as Position[]);
      else job.reject(this.failed(job, failure ?? blockedFailure));
    }
  }

  /** A subject's events as Kinesis records: one each, or aggregated up to the record limit. */
  private unitsOf(key: string, items: readonly Item[]): Unit[] {
    const keyBytes = Buffer.byteLength(key, 'utf8');
    const single = (item: Item): Unit => ({ items: [item], key, data: item.data, bytes: item.data.length + keyBytes });
    if (!this.options.aggregate || items.length === 1) return items.map(single);
    const units: Unit[] = [];
    const size = new KinesisAggregateSize();
    let group: Item[] = [];
    const flush = () => {
      if (group.length === 1) units.push(single(group[0] as Item));
      else if (group.length > 1) {
        const data = encodeKinesisAggregate(group.map((item) => ({ partitionKey: key, data: item.data })));
        units.push({ items: group, key, data, bytes: data.length + keyBytes });
      }
      group = [];
      size.clear();
    };
    const limit = this.options.maxRecordBytes - keyBytes;
    for (const item of items) {
      if (group.length > 0 && size.with(key, item.data.length) > limit) flush();
      group.push(item);
      size.add(key, item.data.length);
    }
    flush();
    return units;
  }

  /** Sends rounds until every subject's records are accepted; resolves with what stopped it early, if anything. */
  private async rounds(units: Map<string, Unit[]>): Promise<RunFailure | undefined> {
    const { appendTimeoutMs } = this.options;
    const signal =
      appendTimeoutMs === undefined ? this.options.closing : AbortSignal.any([this.options.closing, AbortSignal.timeout(appendTimeoutMs)]);
    let throttledRounds = 0;
    while (units.size > 0) {
      if (this.options.closing.aborted) return { cause: new Error('the log was closed'), item: undefined };
      if (signal.aborted)
        return { cause: new Error(`Kinesis still throttled the append after appendTimeoutMs (${appendTimeoutMs} ms)`), item: undefined };
      const heads: Unit[] = [];
      for (const queue of units.values()) heads.push(queue[0] as Unit);
      const calls = packCalls(heads);
      const results: { unit: Unit; entry: PutRecordsResultEntry | undefined }[] = [];
      let failure: RunFailure | undefined;
      for (let i = 0; i < calls.length; i += MAX_CALLS_IN_FLIGHT) {
        const settled = await Promise.allSettled(calls.slice(i, i + MAX_CALLS_IN_FLIGHT).map((call) => this.put(call, signal)));
        settled.forEach((outcome, k) => {
          const call = calls[i + k] as Unit[];
          if (outcome.status === 'rejected') failure ??= { cause: outcome.reason, item: call[0]?.items[0] };
          else for (const [n, unit] of call.entries()) results.push({ unit, entry: outcome.value[n] });
        });
      }
      let throttled = false;
      for (const { unit, entry } of results) {
        if (entry?.SequenceNumber !== undefined && entry.ShardId !== undefined && entry.ErrorCode === undefined) {
          this.accepted(unit, entry.ShardId, entry.SequenceNumber);
          const queue = units.get(unit.key) as Unit[];
          queue.shift();
          if (queue.length === 0) units.delete(unit.key);
        } else if (entry?.ErrorCode !== undefined && isRetriableWrite({ name: entry.ErrorCode })) {
          throttled = true;
        } else {
          // An entry answered with an error code was not written; an entry missing from the answer may have been.
          if (entry?.ErrorCode === undefined) maybeWritten(unit);
          const cause = new Error(
            entry?.ErrorCode ? `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}` : 'PutRecords answered without a record',
          );
          failure ??= { cause, item: unit.items[0] };
        }
      }
      if (failure) return failure;
      throttledRounds = throttled ? throttledRounds + 1 : 0;
      if (throttled && !(await sleep(this.options.retry.delay(throttledRounds), signal))) {
        const why = this.options.closing.aborted ? 'the log was closed' : `appendTimeoutMs (${appendTimeoutMs} ms) passed`;
        return { cause: new Error(`${why} while Kinesis throttled the append`), item: undefined };
      }
    }
    return undefined;
  }

  /**
   * One PutRecords call; a whole call refused by throttling or a 5xx is sent
   * again after a backoff wait. An attempt whose answer may hide a write
   * marks the call's events `maybeWritten`, whatever later attempts answer.
   */
  private async put(call: readonly Unit[], signal: AbortSignal): Promise<PutRecordsResultEntry[]> {
    const { client, stream, retry, closing } = this.options;
    const command = new PutRecordsCommand({
      ...streamParams(stream),
      Records: call.map((unit) => ({ PartitionKey: unit.key, Data: unit.data })),
    });
    for (let attempt = 1; ; attempt++) {
      try {
        const { Records = [], $metadata } = await client.send(command, { abortSignal: closing });
        // The SDK retried the call itself: an earlier attempt may have been written before its answer was lost.
        if (($metadata?.attempts ?? 1) > 1) for (const unit of call) maybeWritten(unit);
        return Records;
      } catch (error) {
        if (!provesNotWritten(error)) for (const unit of call) maybeWritten(unit);
        if (!isRetriableWrite(error) || signal.aborted) throw error;
        if (!(await sleep(retry.delay(attempt), signal))) throw error;
      }
    }
  }

  private accepted(unit: Unit, shardId: string, sequenceNumber: string): void {
    const aggregated = unit.items.length > 1;
    unit.items.forEach((item, index) => {
      const position: Position = { partition: shardId, offset: aggregated ? `${sequenceNumber}.${index}` : sequenceNumber };
      item.job.positions[item.index] = position;
      this.options.window.remember(item.event.id, position);
    });
  }

  private failed(job: Job, failure: RunFailure | undefined): KinesisAppendError {
    const outcomes = job.items.map((item): KinesisAppendOutcome => {
      const position = job.positions[item.index];
      if (position) return { status: 'accepted', position };
      return { status: item.maybeWritten ? 'unknown' : 'refused' };
    });
    const count = (status: KinesisAppendOutcome['status']) => outcomes.filter((outcome) => outcome.status === status).length;
    const cause = failure?.cause;
    const where = failure?.item
      ? ` (first failed: ${failure.item.event.type} ${failure.item.event.id}, subject ${JSON.stringify(failure.item.event.subject)})`
      : '';
    const accepted = count('accepted');
    const unknown = count('unknown');
    const tally = `Of its ${job.items.length} event(s): ${accepted} accepted, ${count('refused')} refused (not written), ${unknown} unknown (see the error's outcomes).`;
    const partly =
      accepted > 0 ? ' Appending the accepted events again through this log returns their positions instead of writing them twice.' : '';
    const doubt =
      unknown > 0
        ? ' An unknown event was in a call whose answer was lost (network, 5xx, abort): it may be in the stream; appending it again may store it twice (same id).'
        : '';
    return new KinesisAppendError(
      `Kinesis did not accept an append of ${job.items.length} event(s) to ${this.options.uri}: ${describeError(cause)}${where}. The call as a whole is not acknowledged; no later event of a failed subject was sent. ${tally}${partly}${doubt}`,
      outcomes,
      cause,
    );
  }
}

/** Marks a record's events as perhaps in the stream. */
function maybeWritten(unit: Unit): void {
  for (const item of unit.items) item.maybeWritten = true;
}

/**
 * What became of one event of a failed append:
 * - `accepted`: Kinesis stored it at `position`;
 * - `refused`: it is not in the stream — Kinesis answered its record with an
 *   error code (throttled until `appendTimeoutMs` or `close()`), refused the
 *   whole call with a 4xx, or it was never sent (a subject's events after
 *   its first failed one, a call queued behind a failed subject, the log closed);
 * - `unknown`: a call that carried it lost its answer (a network error, a
 *   5xx, an abort while in flight, or a retry inside the SDK): it may or may
 *   not be in the stream.
 */
export type KinesisAppendOutcome =
  | { readonly status: 'accepted'; readonly position: Position }
  | { readonly status: 'refused' }
  | { readonly status: 'unknown' };

/**
 * An append Kinesis did not accept as a whole (code `LOG_WRITE_FAILED`).
 * `outcomes[i]` tells what became of event `i` of the call: `accepted` (with
 * its position), `refused` (certainly not in the stream) or `unknown` (its
 * call's answer was lost: it may be in the stream). Only `refused` events are
 * known to be absent; an `unknown` one sent again may be stored twice, with
 * the same id (a view leaves the repeat out within its id window; a
 * consumer handler sees both). No event of a subject after its first refused
 * or unknown one was sent.
 *
 * @example
 * try {
 *   await log.append(events);
 * } catch (error) {
 *   if (!(error instanceof KinesisAppendError)) throw error;
 *   // Certainly not in the stream: these may be reported as failed.
 *   const refused = events.filter((_, i) => error.outcomes[i]?.status === 'refused');
 *   // Sent again in call order (each subject's order kept); an unknown one may end up stored twice.
 *   const again = events.filter((_, i) => error.outcomes[i]?.status !== 'accepted');
 *   await log.append(again);
 * }
 */
export class KinesisAppendError extends RiverlogError {
  constructor(
    message: string,
    readonly outcomes: readonly KinesisAppendOutcome[],
    cause: unknown,
  ) {
    super('LOG_WRITE_FAILED', message, cause === undefined ? {} : { cause });
    this.name = 'KinesisAppendError';
  }
}

/** Packs records (one per subject) into calls within PutRecords' limits, in order. */
function packCalls(units: readonly Unit[]): Unit[][] {
  const calls: Unit[][] = [];
  let call: Unit[] = [];
  let bytes = 0;
  for (const unit of units) {
    if (call.length > 0 && (call.length === PUT_RECORDS_MAX_RECORDS || bytes + unit.bytes > PUT_RECORDS_MAX_BYTES)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(unit);
    bytes += unit.bytes;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
