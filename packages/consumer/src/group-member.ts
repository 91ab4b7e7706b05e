import type {
  BackoffPolicy,
  CheckpointStore,
  EventLog,
  GroupBatchControl,
  GroupBatchStop,
  GroupSubscribable,
  Lag,
  LogRecord,
  ReadBatch,
} from '@riverlog/core';
import { sleep, timeSlice } from '@riverlog/core/backend';
import type { CheckpointWriter } from './checkpoint-writer.js';
import { lagWithin, type PartitionProgress } from './partition-worker.js';
import type { RunOutcome } from './record-runner.js';
import type { PartitionStopReason, TransientRetry } from './types.js';

export interface GroupMemberOptions {
  readonly log: EventLog & GroupSubscribable;
  readonly group: string;
  /** The one checkpoint, when it is a store the user named; absent: the log's own group offsets. */
  readonly checkpoints: CheckpointStore | undefined;
  /** Writes to `checkpoints` (only with a store). */
  readonly writer: CheckpointWriter | undefined;
  readonly from: 'earliest' | 'latest';
  readonly process: (record: LogRecord, signal: AbortSignal) => RunOutcome | Promise<RunOutcome>;
  readonly changed: () => void;
  readonly onPartitionStart: (partition: string, after: string | undefined) => void;
  readonly onPartitionStop: (partition: string, reason: PartitionStopReason, error?: unknown) => void;
  readonly onError: (error: unknown, partition?: string) => void;
  /** Waits between tries of a failing checkpoint store. */
  readonly policy: BackoffPolicy;
  readonly retrying: (info: TransientRetry) => void;
  readonly recovered: (partition: string) => void;
}

/** A partition the log assigned to this member, and where it stands. */
class MemberPartition implements PartitionProgress {
  finished: string | undefined;
  caughtUp = false;
  started = false;
  gone = false;
  stopped: PartitionProgress['stopped'];
  batch: ReadBatch | undefined;
  handledInBatch = 0;
  readonly controller = new AbortController();
  constructor(
    readonly partition: string,
    /** The log keeps the group's offsets: where this partition resumed is not known here. */
    readonly startUnknown: boolean,
  ) {}
  get state(): PartitionProgress['state'] {
    return this.stopped ? 'stopped' : this.started ? 'running' : 'starting';
  }
  lag(): Lag | undefined {
    return lagWithin(this.batch, this.handledInBatch);
  }
}

/**
 * The consumer as a member of a group the log runs itself (Kafka): the log
 * assigns partitions and hands over batches; each record goes through the
 * same processing as a partition worker's. The group keeps one checkpoint:
 * the log's group offsets (committed by the log after each batch, up to
 * what was finished) or, when the user named a store, that store only,
 * written before the batch returns, so nothing is committed past a
 * checkpoint that failed (the save is tried again for as long as it fails,
 * while the partition is still this member's).
 */
export class GroupMember {
  private readonly partitions = new Map<string, MemberPartition>();
  private subscription: { stop(): Promise<void> } | undefined;
  private stopping = false;

  constructor(private readonly options: GroupMemberOptions) {}

  /** Whether the partition is assigned to this member now. */
  holds(partition: string): boolean {
    return this.partitions.has(partition);
  }

  /** The partitions assigned to this member now, with their progress. */
  tracked(): MemberPartition[] {
    return [...this.partitions.values()];
  }

  /**
   * Joins the group; resolves once the log assigned this member its
   * partitions (none, if the group has more members than partitions), or
   * after `joinTimeoutMs` while the log keeps trying.
   */
  async start(joinTimeoutMs = 30_000): Promise<void> {
    const { log, group, checkpoints, from } = this.options;
    let joined!: () => void;
    const assigned = new Promise<void>((resolve) => {
      joined = resolve;
    });
    this.subscription = await log.subscribe({
      group,
      from,
      ...(checkpoints ? { checkpoints: { load: async (partition: string) => (await checkpoints.load(group))[partition] } } : {}),
      onAssigned: (partitions) => {
        for (const partition of partitions) this.knowStart(this.entry(partition));
        joined();
        this.options.changed();
      },
      onRevoked: (partitions) => {
        for (const partition of partitions) this.release(partition, this.stopping ? 'stopped' : 'rebalanced');
        this.options.changed();
      },
      onBatch: (batch, control) => this.work(batch, control),
      onError: (error, partition) => this.options.onError(error, partition),
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([assigned, new Promise<void>((resolve) => (timer = setTimeout(resolve, joinTimeoutMs)))]);
    clearTimeout(timer);
  }

  /** Lets in-flight records finish, writes their checkpoints and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const entry of this.partitions.values()) entry.controller.abort();
    await this.subscription?.stop();
    for (const partition of [...this.partitions.keys()]) this.release(partition, 'stopped');
  }

  private entry(partition: string): MemberPartition {
    let entry = this.partitions.get(partition);
    if (!entry) {
      entry = new MemberPartition(partition, this.options.checkpoints === undefined);
      this.partitions.set(partition, entry);
    }
    return entry;
  }

  /** With a store, where the partition resumes (the log's own group offsets cannot be read here). */
  private knowStart(entry: MemberPartition): void {
    const { checkpoints, group } = this.options;
    if (!checkpoints) return;
    checkpoints.load(group).then(
      (stored) => {
        if (entry.finished === undefined) entry.finished = stored[entry.partition];
      },
      () => {},
    );
  }

  private release(partition: string, reason: PartitionStopReason): void {
    const entry = this.partitions.get(partition);
    if (!entry) return;
    this.partitions.delete(partition);
    entry.gone = true;
    entry.controller.abort();
    this.options.writer?.forget(partition);
    if (entry.started) this.options.onPartitionStop(partition, reason);
  }

  private async work(batch: ReadBatch, control: GroupBatchControl): Promise<GroupBatchStop | undefined> {
    const entry = this.entry(control.partition);
    if (entry.stopped) return { lastFinished: undefined };
    if (!entry.started) {
      entry.started = true;
      this.options.onPartitionStart(control.partition, entry.finished);
    }
    entry.batch = batch;
    entry.handledInBatch = 0;
    entry.caughtUp = false;
    const slice = timeSlice();
    let last: string | undefined;
    const stop = (): GroupBatchStop => ({ lastFinished: last });
    for (const record of batch.records) {
      if (!control.isActive() || entry.controller.signal.aborted) return stop();
      let outcome = this.options.process(record, entry.controller.signal);
      if (outcome !== 'done') {
        if (typeof outcome === 'object' && 'then' in outcome) outcome = await outcome;
        if (outcome !== 'done') {
          if (typeof outcome === 'object') {
            entry.stopped = { reason: 'unreadable', error: outcome.stop, at: new Date().toISOString() };
            this.options.onPartitionStop(control.partition, 'unreadable', outcome.stop);
          }
          await this.save(control);
          return stop();
        }
      }
      last = record.position.offset;
      entry.finished = last;
      entry.handledInBatch++;
      this.options.writer?.finished(record.position);
      if (slice.due()) {
        await slice.pause();
        await control.heartbeat().catch(() => {});
      }
    }
    if (!(await this.save(control))) return { lastFinished: undefined };
    if (batch.caughtUp) entry.caughtUp = true;
    this.options.changed();
  }

  /**
   * With a store: writes what is finished while the partition is still ours,
   * trying again by the backoff policy for as long as it fails; false when it
   * could not (revoked or stopping meanwhile), so nothing counts as finished past it.
   */
  private async save(control: GroupBatchControl): Promise<boolean> {
    const { writer } = this.options;
    if (!writer) return true;
    for (let failures = 1; ; failures++) {
      try {
        await writer.writeNow();
        if (failures > 1) this.options.recovered(control.partition);
        return true;
      } catch (error) {
        if (!control.isActive()) return false;
        const delayMs = this.options.policy.delay(failures);
        this.options.retrying({ stage: 'checkpoint', partition: control.partition, attempt: failures, error, delayMs });
        const waited = await sleep(delayMs, this.partitions.get(control.partition)?.controller.signal);
        if (!waited || !control.isActive()) return false;
      }
    }
  }
}
