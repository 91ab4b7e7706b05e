import { type AssignmentHooks, byPartitionName, callHook, type PartitionAssignment, Rounds } from './assignment.js';
import { RiverlogError } from './errors.js';
import type { Fence } from './ports.js';

/**
 * How a {@link LocalAssignment} finds its partitions, and its hooks.
 *
 * @example
 * const options: LocalAssignmentOptions = { partitions: readyPartitions, pollMs: 1_000, acquired: start };
 */
export interface LocalAssignmentOptions extends AssignmentHooks {
  /** The partitions ready to be worked on, asked at start and every `pollMs`. */
  readonly partitions: () => Promise<readonly string[]>;
  /** How often `partitions` is asked again, to pick up new ones. Default 1,000 ms. */
  readonly pollMs?: number;
}

const NO_FENCE: Fence = Object.freeze({});

/**
 * The {@link PartitionAssignment} of a process that works alone: it owns
 * every partition `partitions()` lists (`acquired` with epoch 0), picks up new
 * ones every `pollMs` (or at once on {@link refresh}), and hands back one
 * that is no longer listed. There is
 * no store and no fence: {@link fence} is empty. A partition `finished` is
 * never acquired again.
 *
 * @example
 * const assignment = new LocalAssignment({
 *   partitions: async () => (await log.partitions()).map((p) => p.id),
 *   acquired: (partition) => startWorker(partition),
 *   handBack: (partition) => finishWorker(partition),
 * });
 * await assignment.start();
 * await assignment.stop();
 */
export class LocalAssignment implements PartitionAssignment {
  private readonly held = new Set<string>();
  private readonly done = new Set<string>();
  private readonly handingBack = new Set<Promise<void>>();
  /** Partitions being handed back. */
  private readonly leaving = new Set<string>();
  private readonly pollMs: number;
  private readonly rounds = new Rounds(
    () => this.reconcile(),
    (error) => this.report(error),
    () => this.halted,
  );
  private halted = false;

  constructor(private readonly options: LocalAssignmentOptions) {
    this.pollMs = options.pollMs ?? 1_000;
    if (!(this.pollMs > 0)) throw new RiverlogError('INVALID_OPTION', `LocalAssignment: pollMs must be > 0, got ${options.pollMs}.`);
  }

  async start(): Promise<void> {
    if (this.halted) return;
    await this.rounds.repeat(this.pollMs);
  }

  async halt(): Promise<void> {
    this.halted = true;
    await this.rounds.stop();
  }

  async stop(): Promise<void> {
    await this.halt();
    await Promise.allSettled(this.handingBack);
    this.held.clear();
  }

  holds(partition: string): boolean {
    return this.held.has(partition);
  }

  owned(): string[] {
    return [...this.held].sort(byPartitionName);
  }

  fence(_partitions: Iterable<string>): Fence {
    return NO_FENCE;
  }

  async finished(partition: string): Promise<void> {
    this.done.add(partition);
    this.held.delete(partition);
  }

  /** Polls the partition list now (after the poll under way), not at the next `pollMs`. */
  refresh(): Promise<void> {
    return this.rounds.after();
  }

  /** Acquires the partitions listed and not held; hands back those held and no longer listed. */
  private async reconcile(): Promise<void> {
    const listed = new Set(await this.options.partitions());
    if (this.halted) return;
    for (const partition of [...listed].sort(byPartitionName)) {
      if (this.held.has(partition) || this.done.has(partition)) continue;
      this.held.add(partition);
      callHook(this.report, () => this.options.acquired?.(partition, 0), partition);
    }
    for (const partition of this.held) if (!listed.has(partition)) this.handBack(partition);
  }

  /** Lets the host finish a partition that is no longer listed, then forgets it. */
  private handBack(partition: string): void {
    if (this.leaving.has(partition)) return;
    this.leaving.add(partition);
    const done: Promise<void> = Promise.resolve()
      .then(() => this.options.handBack?.(partition))
      .catch((error) => this.report(error, partition))
      .finally(() => {
        this.held.delete(partition);
        this.leaving.delete(partition);
        this.handingBack.delete(done);
      });
    this.handingBack.add(done);
  }

  private readonly report = (error: unknown, partition?: string): void => {
    this.options.onError?.(error, partition);
  };
}
