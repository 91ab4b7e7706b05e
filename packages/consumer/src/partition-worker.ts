import { type BackoffPolicy, compareOffsets, type EventLog, type Lag, type LogRecord, PARTITION_END, type ReadBatch } from '@riverlog/core';
import { sleep, timeSlice } from '@riverlog/core/backend';
import type { RunOutcome } from './record-runner.js';
import type { PartitionStopReason, TransientRetry } from './types.js';

/** What `caughtUp()` and `status()` read of a partition being worked on, whoever delivers its records. */
export interface PartitionProgress {
  readonly partition: string;
  /** The offset of the last finished record (or the checkpoint it resumed after); `PARTITION_END` once ended. */
  readonly finished: string | undefined;
  /** The last batch reached the end of the partition and every record of it is finished. */
  readonly caughtUp: boolean;
  /** Why it stopped, while it is held but no longer worked on. */
  readonly stopped: { readonly reason: PartitionStopReason; readonly error?: unknown; readonly at: string } | undefined;
  /** No longer this consumer's (lost, handed back, revoked, ended or stopped). */
  readonly gone: boolean;
  readonly state: 'starting' | 'running' | 'stopped';
  /**
   * Where it resumed is not known here (a log-run group keeping its own
   * offsets, before the first record): a caught-up batch then stands for
   * everything before it being finished.
   */
  readonly startUnknown?: boolean;
  lag(): Lag | undefined;
}

/** Whether `progress` has finished everything up to `target` (an offset, or `PARTITION_END`). */
export function reached(progress: PartitionProgress, target: string | undefined): boolean {
  if (target === undefined) return true;
  const finished = progress.finished;
  if (finished === undefined) return progress.startUnknown === true && progress.caughtUp;
  if (finished === PARTITION_END) return true;
  if (target === PARTITION_END) return false;
  return compareOffsets(finished, target) >= 0;
}

/** Lag after `handled` records of `batch`: records still to handle count, in a log that counts records. */
export function lagWithin(batch: ReadBatch | undefined, handled: number): Lag | undefined {
  if (!batch) return undefined;
  if ('records' in batch.lag) return { records: batch.lag.records + batch.records.length - handled };
  return batch.lag;
}

export interface PartitionWorkerOptions {
  readonly log: EventLog;
  readonly partition: string;
  /** The lease epoch it works under (0 without leases). */
  readonly epoch: number;
  readonly batchSize: number | undefined;
  /** Claims the partition and finds the offset to resume after (undefined: from the first record; `PARTITION_END`: nothing left). */
  readonly start: (signal: AbortSignal) => Promise<string | undefined>;
  /** Synchronous when the record finished synchronously; anything but `done` leaves it unfinished and ends the worker. */
  readonly process: (record: LogRecord, signal: AbortSignal) => RunOutcome | Promise<RunOutcome>;
  /** Called after each finished record, in offset order. */
  readonly finished: (record: LogRecord) => void;
  /** False when this worker may no longer start a record (its lease ran out). */
  readonly mayContinue: () => boolean;
  readonly onStarted: (after: string | undefined) => void;
  /** The partition was read to its end: write its checkpoint, give it up. */
  readonly onEnded: () => Promise<void>;
  /** The worker stopped by itself (an unreadable event, or a start that failed for good). */
  readonly onStopped: (reason: PartitionStopReason, error: unknown) => void;
  /** Progress was made (for `caughtUp()` waiting on it). */
  readonly changed: () => void;
  readonly policy: BackoffPolicy;
  readonly retrying: (info: TransientRetry) => void;
  readonly recovered: (stage: TransientRetry['stage']) => void;
}

/**
 * Works through one partition, one record at a time, in offset order, until
 * stopped or the partition ends. A failed read is tried again from the last
 * finished record, by the backoff policy, for as long as it fails. Pauses
 * for the event loop every ~10 ms of work (core's `timeSlice`), so timers
 * (lease renewal) run on time during a long catch-up of synchronous handlers.
 */
export class PartitionWorker implements PartitionProgress {
  readonly partition: string;
  finished: string | undefined;
  caughtUp = false;
  state: 'starting' | 'running' | 'stopped' = 'starting';
  stopped: PartitionProgress['stopped'];
  gone = false;
  private batch: ReadBatch | undefined;
  private handledInBatch = 0;
  private readonly controller = new AbortController();
  /** Mirrors the signal: reading `AbortSignal.aborted` costs a getter call, and this is checked per record. */
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(readonly options: PartitionWorkerOptions) {
    this.partition = options.partition;
  }

  get epoch(): number {
    return this.options.epoch;
  }

  lag(): Lag | undefined {
    return lagWithin(this.batch, this.handledInBatch);
  }

  /** Starts working; the promise settles when the worker ended (stopped, ended, or it could not continue). */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Ends the worker after its in-flight record; resolves once it has ended. */
  async stop(): Promise<void> {
    this.abort();
    await this.running;
  }

  /** Ends the worker without waiting: its in-flight handler sees its signal abort. */
  abort(): void {
    this.stopping = true;
    this.gone = true;
    this.controller.abort();
  }

  private halt(reason: PartitionStopReason, error: unknown): void {
    this.state = 'stopped';
    this.stopped = { reason, error, at: new Date().toISOString() };
    this.options.onStopped(reason, error);
    this.options.changed();
  }

  private async loop(): Promise<void> {
    const { options } = this;
    const signal = this.controller.signal;
    let after: string | undefined;
    try {
      after = await options.start(signal);
    } catch (error) {
      if (!signal.aborted) this.halt('lease-lost', error);
      return;
    }
    if (signal.aborted) return;
    this.finished = after;
    this.state = 'running';
    options.onStarted(after);
    options.changed();
    if (after === PARTITION_END) {
      this.caughtUp = true;
      await options.onEnded();
      return;
    }

    const slice = timeSlice();
    let failures = 0;
    while (!signal.aborted) {
      try {
        for await (const batch of options.log.read({
          partitions: [this.partition],
          from: after === undefined ? 'earliest' : { after: { [this.partition]: after } },
          follow: true,
          signal,
          batchSize: options.batchSize,
        })) {
          this.batch = batch;
          this.handledInBatch = 0;
          this.caughtUp = false;
          for (const record of batch.records) {
            if (this.stopping || !options.mayContinue()) return;
            let outcome = options.process(record, signal);
            if (outcome !== 'done') {
              if (typeof outcome === 'object' && 'then' in outcome) outcome = await outcome;
              if (outcome !== 'done') {
                if (typeof outcome === 'object' && !this.stopping) this.halt('unreadable', outcome.stop);
                return;
              }
            }
            after = record.position.offset;
            this.finished = after;
            this.handledInBatch++;
            options.finished(record);
            if (slice.due()) await slice.pause();
          }
          if (failures > 0) {
            failures = 0;
            options.recovered('read');
          }
          if (batch.caughtUp || batch.ended) {
            this.caughtUp = true;
            options.changed();
          }
          if (batch.ended) {
            if (this.stopping) return;
            await options.onEnded();
            this.finished = PARTITION_END;
            return;
          }
        }
        if (signal.aborted) return;
        throw new Error(`the read of partition ${this.partition} of ${options.log.uri} ended while following`);
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        const delayMs = options.policy.delay(failures);
        options.retrying({ stage: 'read', partition: this.partition, attempt: failures, error, delayMs });
        if (!(await sleep(delayMs, signal))) return;
      }
    }
  }
}
