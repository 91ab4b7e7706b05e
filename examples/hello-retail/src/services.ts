import type { CheckpointStore, DeadLetterSink, EventLog, PositionMap, ViewStore } from '@riverlog/core';
import { readEnds } from '@riverlog/core';
import { runView, type ViewRunner } from '@riverlog/view-builder';
import { RetailError } from './errors.js';
import { type Assignment, photoAssignment } from './photo-assignment.js';
import { photographerRegistryView } from './photographer-registry.js';
import { categoriesView, productsView } from './product-catalog.js';
import { winnerView } from './winner.js';

/** Every view of Hello Retail. */
export const retailViews = [categoriesView, productsView, photographerRegistryView, winnerView] as const;

export interface RetailOptions {
  readonly log: EventLog;
  readonly store: ViewStore;
  readonly checkpoints: CheckpointStore;
  /** Where the consumer's and the views' dead letters go. */
  readonly deadLetters: DeadLetterSink;
  /** Called for each assignment the photo-assignment service makes. */
  readonly onAssigned?: (assignment: Assignment) => void;
}

/** The running services of Hello Retail. */
export interface Retail {
  readonly runners: readonly ViewRunner[];
  /**
   * Waits until the photo-assignment service has reacted to everything in
   * the log and every view has folded everything, its reactions included.
   */
  settle(options?: { readonly timeoutMs?: number }): Promise<void>;
  /** Stops the consumer and the views (not the log or the stores). */
  stop(): Promise<void>;
}

/**
 * Starts the builders of every view and the photo-assignment service on one log.
 *
 * @example
 * const retail = await startRetail({ log, store, checkpoints, deadLetters });
 * await playDay({ log, settle: () => retail.settle() });
 * await retail.stop();
 */
export async function startRetail(options: RetailOptions): Promise<Retail> {
  const { log, store, deadLetters } = options;
  const runners = retailViews.map((view) => runView(view, { log, store, deadLetters }));
  const assignment = photoAssignment({
    log,
    store,
    checkpoints: options.checkpoints,
    deadLetters,
    ...(options.onAssigned ? { onAssigned: options.onAssigned } : {}),
  });
  await assignment.consumer.start();

  // The service appends while it reacts: settled once a round of catching up
  // left the log where it found it. Each round reads only what is new.
  async function settle({ timeoutMs = 15_000 } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const partitions = (await log.partitions()).map((partition) => partition.id);
    let before = await readEnds(log, partitions, {});
    while (Date.now() < deadline) {
      await assignment.consumer.caughtUp({ timeoutMs: Math.max(1, deadline - Date.now()) });
      await Promise.all(runners.map((runner) => runner.caughtUp({ timeoutMs: Math.max(1, deadline - Date.now()) })));
      const after = await readEnds(log, partitions, before);
      if (sameEnds(before, after)) return;
      before = after;
    }
    throw new RetailError('SETTLE_TIMEOUT', `Hello Retail did not settle within ${timeoutMs} ms.`);
  }

  return {
    runners,
    settle,
    async stop() {
      await assignment.stop();
      await Promise.all(runners.map((runner) => runner.stop()));
    },
  };
}

function sameEnds(a: PositionMap, b: PositionMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
