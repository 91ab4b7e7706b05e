import type { EventLog, PositionMap, ReadBatch } from '@riverlog/core';
import type { Retries } from './retries.js';

const ABORTED: IteratorResult<ReadBatch> = Object.freeze({ done: true, value: undefined });

/** Settles with `promise`, or with the end of iteration as soon as `signal` aborts. */
function untilAborted(promise: Promise<IteratorResult<ReadBatch>>, signal: AbortSignal): Promise<IteratorResult<ReadBatch>> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * A following read of some partitions of the log that survives transient
 * failures: when the log's read fails, it is opened again after the last
 * record handed out, through {@link Retries} (as long as the failures last).
 * It ends at once when `signal` aborts, even if the log is slow to notice.
 *
 * @example
 * const reader = new BatchReader(log, { partitions: ['0'], after: checkpoint, batchSize: 1000 }, retries, signal);
 * for (let r = await reader.next(); !r.done; r = await reader.next()) fold(r.value);
 */
export class BatchReader {
  private iterator: AsyncIterator<ReadBatch> | undefined;
  /** Where a new read starts: after the last record handed out, per partition. */
  private readonly after: Record<string, string>;

  constructor(
    private readonly log: EventLog,
    private readonly options: { readonly partitions: readonly string[]; readonly after: PositionMap; readonly batchSize: number },
    private readonly retries: Retries,
    private readonly signal: AbortSignal,
  ) {
    this.after = { ...options.after };
  }

  /** The next batch (retrying a failed read from where it stopped); done once the signal aborts. */
  next(): Promise<IteratorResult<ReadBatch>> {
    return this.retries
      .run(
        'read',
        async () => {
          const iterator = this.open();
          try {
            return await untilAborted(iterator.next(), this.signal);
          } catch (error) {
            this.iterator = undefined;
            void iterator.return?.()?.catch(() => undefined);
            throw error;
          }
        },
        this.signal,
      )
      .then(
        (result) => {
          const last = result.done ? undefined : result.value.records[result.value.records.length - 1];
          if (last) this.after[last.position.partition] = last.position.offset;
          return result;
        },
        (error: unknown) => {
          if (this.signal.aborted) return ABORTED;
          throw error;
        },
      );
  }

  /** The offset of the last record of `partition` handed out (or where the read started), if any. */
  position(partition: string): string | undefined {
    return this.after[partition];
  }

  close(): void {
    const iterator = this.iterator;
    this.iterator = undefined;
    void iterator?.return?.()?.catch(() => undefined);
  }

  private open(): AsyncIterator<ReadBatch> {
    this.iterator ??= this.log
      .read({
        from: { after: { ...this.after } },
        partitions: this.options.partitions,
        follow: true,
        batchSize: this.options.batchSize,
        signal: this.signal,
      })
      [Symbol.asyncIterator]();
    return this.iterator;
  }
}
