import type { EventLog, LogRecord, ReadFrom } from '@riverlog/core';
import { sleep } from '@riverlog/core';
import type { RunOutcome } from './record-runner.js';
import { backoffDelay, type ResolvedRetryPolicy } from './retry.js';

export interface PartitionWorkerOptions {
  readonly log: EventLog;
  readonly partition: string;
  readonly maxBatch: number | undefined;
  /** The offset to resume after (the checkpoint), or undefined to start from the beginning. */
  readonly start: () => Promise<string | undefined>;
  /** Synchronous when the record finished synchronously; anything but `done` leaves it unfinished and ends the worker. */
  readonly process: (record: LogRecord, signal: AbortSignal) => RunOutcome | Promise<RunOutcome>;
  /** Called after each finished record, in offset order. */
  readonly finished: (record: LogRecord) => void;
  /** False when this worker may no longer start a record (e.g. its lease ran out). */
  readonly mayContinue: () => boolean;
  readonly onStarted: (after: string | undefined) => void;
  readonly onError: (error: unknown) => void;
  /** Backoff between failed reads. */
  readonly readRetry: ResolvedRetryPolicy;
}

/**
 * Works through one partition, one record at a time, in offset order, until
 * stopped. A failed read is retried from the last finished record.
 */
export class PartitionWorker {
  readonly partition: string;
  /** The offset of the last finished record (or the checkpoint it started after). */
  finishedOffset: string | undefined;
  /** True once the checkpoint is loaded and reading began. */
  started = false;
  private readonly controller = new AbortController();
  /** Mirrors the signal: reading `AbortSignal.aborted` costs a getter call, and this is checked per record. */
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(readonly options: PartitionWorkerOptions) {
    this.partition = options.partition;
  }

  /** Starts working; the promise settles when the worker ended (stopped, or it could not continue). */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Ends the worker after its in-flight record; resolves once it has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.controller.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { options } = this;
    const signal = this.controller.signal;
    let failures = 0;
    let after: string | undefined;
    for (;;) {
      try {
        after = await options.start();
        break;
      } catch (error) {
        options.onError(error);
        if (!(await sleep(backoffDelay(options.readRetry, Math.min(++failures, 10)), signal))) return;
      }
    }
    this.finishedOffset = after;
    this.started = true;
    options.onStarted(after);

    while (!signal.aborted) {
      const from: ReadFrom = after === undefined ? 'earliest' : { after: { [this.partition]: after } };
      try {
        for await (const batch of options.log.read({
          partitions: [this.partition],
          from,
          follow: true,
          signal,
          maxBatch: options.maxBatch,
        })) {
          for (const record of batch) {
            if (this.stopping || !options.mayContinue()) return;
            let outcome = options.process(record, signal);
            if (typeof outcome !== 'string') outcome = await outcome;
            if (outcome !== 'done') return;
            after = record.position.offset;
            this.finishedOffset = after;
            failures = 0;
            options.finished(record);
          }
        }
        if (signal.aborted) return;
        throw new Error(`the read of partition ${this.partition} of ${options.log.uri} ended while following`);
      } catch (error) {
        if (signal.aborted) return;
        options.onError(error);
        if (!(await sleep(backoffDelay(options.readRetry, Math.min(++failures, 10)), signal))) return;
      }
    }
  }
}
