import type { CheckpointStore, EventLog, GroupBatchControl, GroupSubscribable, LogRecord } from '@riverlog/core';
import type { CheckpointWriter } from './checkpoint-writer.js';
import type { RunOutcome } from './record-runner.js';
import type { PartitionStopReason } from './types.js';

export interface GroupMemberOptions {
  readonly log: EventLog & GroupSubscribable;
  readonly group: string;
  readonly checkpoints: CheckpointStore;
  readonly from: 'earliest' | 'latest';
  readonly writer: CheckpointWriter;
  readonly process: (record: LogRecord, signal: AbortSignal) => RunOutcome | Promise<RunOutcome>;
  readonly changed: () => void;
  readonly onPartitionStart: (partition: string, after: string | undefined) => void;
  readonly onPartitionStop: (partition: string, reason: PartitionStopReason) => void;
  readonly onError: (error: unknown, partition?: string) => void;
}

/** What drain() needs to know of a partition this member works on. */
export interface MemberPartition {
  readonly partition: string;
  started: boolean;
  /** The last finished offset (or the checkpoint it resumed after). */
  finishedOffset: string | undefined;
  readonly controller: AbortController;
}

/**
 * The consumer as a member of a group the log manages itself (Kafka):
 * the log assigns partitions and hands over batches; each record goes
 * through the same processing as a partition worker's. The checkpoint store
 * decides where an assigned partition resumes; finished work is written at
 * the end of every batch, while the partition is still this member's.
 */
export class GroupMember {
  private readonly partitions = new Map<string, MemberPartition>();
  private subscription: { stop(): Promise<void> } | undefined;
  private stopping = false;

  constructor(private readonly options: GroupMemberOptions) {}

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
      startAfter: async (partition) => {
        const after = (await checkpoints.load(group))[partition];
        const entry = this.entry(partition);
        // Starting at the latest record counts as having finished what is there, as a partition worker does.
        entry.finishedOffset = after ?? (from === 'latest' ? (await log.heads())[partition] : undefined);
        entry.started = true;
        this.options.onPartitionStart(partition, after);
        this.options.changed();
        // No checkpoint: from the first record ('-1' is the offset before it), unless asked for the latest.
        return after ?? (from === 'latest' ? undefined : '-1');
      },
      onAssigned: (partitions) => {
        for (const partition of partitions) this.entry(partition);
        joined();
        this.options.changed();
      },
      onRevoked: (partitions) => {
        for (const partition of partitions) this.release(partition, this.stopping ? 'stopped' : 'rebalanced');
        this.options.changed();
      },
      onBatch: (batch, control) => this.work(batch, control),
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
      entry = { partition, started: false, finishedOffset: undefined, controller: new AbortController() };
      this.partitions.set(partition, entry);
    }
    return entry;
  }

  private release(partition: string, reason: PartitionStopReason): void {
    const entry = this.partitions.get(partition);
    if (!entry) return;
    this.partitions.delete(partition);
    entry.controller.abort();
    if (entry.started) this.options.onPartitionStop(partition, reason);
  }

  private async work(batch: LogRecord[], control: GroupBatchControl): Promise<void> {
    const entry = this.entry(control.partition);
    let last: string | undefined;
    try {
      for (const record of batch) {
        if (!control.isActive() || entry.controller.signal.aborted) break;
        let outcome = this.options.process(record, entry.controller.signal);
        if (typeof outcome !== 'string') outcome = await outcome;
        if (outcome !== 'done') break;
        last = record.position.offset;
        entry.finishedOffset = last;
        this.options.writer.finished(record.position);
        this.options.changed();
      }
    } finally {
      // Written while the partition is still ours, so its next owner starts after this work.
      if (last !== undefined) {
        await this.options.writer.flush().catch(() => {});
        await control.commit(last).catch((error) => {
          if ((error as { code?: string }).code !== 'PARTITION_REVOKED') this.options.onError(error, control.partition);
        });
      }
    }
  }
}
