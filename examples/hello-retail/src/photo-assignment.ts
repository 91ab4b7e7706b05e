import { type Consumer, type ConsumerHandlers, createConsumer, ignore } from '@riverlog/consumer';
import { type CheckpointStore, compareOffsets, type DeadLetterSink, type EventLog, type Position, type ViewStore } from '@riverlog/core';
import { createProducer } from '@riverlog/producer';
import { openView, type ViewReader } from '@riverlog/view-builder';
import { type RetailEvent, retailCatalog } from './catalog.js';
import { derivedEventId } from './domain.js';
import { RetailError } from './errors.js';
import { type Photographer, type ProductAssignment, photographerRegistryView, type RegistryRow } from './photographer-registry.js';

/** The envelope `source` of every assignment this service makes. */
export const PHOTO_ASSIGNMENT_SOURCE = 'hello-retail/photo-assignment';

export interface PhotoAssignerOptions {
  /** Where `photo/assigned` events are appended. */
  readonly log: EventLog;
  /** Where the photographer registry view is built (by `runView` here or in another process). */
  readonly store: ViewStore;
  /** How long to wait for the registry to fold an event before giving up (the record is then retried). Default 10 s. */
  readonly registryTimeoutMs?: number;
}

/** Decides assignments from the photographer registry and emits them. */
export interface PhotoAssigner {
  /**
   * Reacts to an event that may let a waiting product and a free
   * photographer meet (a product created, a photo received, an assignment
   * released, a photographer registered): assigns, oldest waiting product
   * first, the free photographer with the fewest completed assignments.
   * Returns the assignments it emitted.
   */
  react(event: RetailEvent, position: Position): Promise<Assignment[]>;
  /** Flushes and closes its producer (not the log). */
  close(): Promise<void>;
}

export interface Assignment {
  readonly product: string;
  readonly photographer: string;
  readonly eventId: string;
  readonly position: Position;
}

/**
 * The photo-assignment service's decisions, without the subscription: handy
 * in tests and in a Lambda handler.
 *
 * Decisions read the registry view, so before deciding it waits until the
 * registry has folded the triggering event, and after each assignment until
 * it has folded that too: it never decides on a state older than its own
 * writes. Reactions run one at a time, whichever partition they come from.
 *
 * Redelivery is harmless twice over: a redelivered trigger finds the product
 * already assigned in the registry and does nothing; and an assignment
 * emitted again before the registry caught up carries the same event id
 * (derived from the trigger's id and the product), which the log's id dedupe
 * absorbs.
 *
 * @example
 * const assigner = photoAssigner({ log, store });
 * await assigner.react(productCreatedEvent, position);
 */
export function photoAssigner(options: PhotoAssignerOptions): PhotoAssigner {
  const registry = openView(photographerRegistryView, options.store);
  const producer = createProducer({ log: options.log, catalog: retailCatalog, source: PHOTO_ASSIGNMENT_SOURCE });
  const timeoutMs = options.registryTimeoutMs ?? 10_000;
  let queue: Promise<unknown> = Promise.resolve();

  async function react(trigger: RetailEvent, position: Position): Promise<Assignment[]> {
    await registryReached(options.store, registry, position, timeoutMs);
    const made: Assignment[] = [];
    const tried = new Set<string>();
    for (;;) {
      const pair = await nextPair(registry, tried);
      if (!pair) return made;
      const { product, photographer } = pair;
      tried.add(product.id);
      const eventId = derivedEventId(trigger.id, `photo/assigned:${product.id}`);
      const { position: at } = await producer.emit(
        'photo/assigned',
        product.id,
        { id: product.id, photographer: photographer.id },
        { id: eventId, causationid: trigger.id, correlationid: trigger.correlationid ?? trigger.id },
      );
      made.push({ product: product.id, photographer: photographer.id, eventId, position: at });
      await registryReached(options.store, registry, at, timeoutMs);
    }
  }

  return {
    react(trigger, position) {
      const run = queue.then(() => react(trigger, position));
      queue = run.catch(() => {});
      return run;
    },
    close: () => producer.close(),
  };
}

/** The oldest waiting product with the best free photographer it may be given to, if any. */
async function nextPair(
  registry: ViewReader<RegistryRow, string>,
  tried: ReadonlySet<string>,
): Promise<{ product: ProductAssignment; photographer: Photographer } | undefined> {
  const free: Photographer[] = [];
  for await (const { value } of registry.all({ index: 'free' })) free.push(value as Photographer);
  if (free.length === 0) return undefined;
  for await (const { value } of registry.all({ index: 'waiting' })) {
    const product = value as ProductAssignment;
    if (tried.has(product.id)) continue;
    const photographer = free.find((candidate) => !product.released.includes(candidate.id));
    if (photographer) return { product, photographer };
  }
  return undefined;
}

/** Waits until the registry (the table of the version it reads) has folded `position`. */
async function registryReached(
  store: ViewStore,
  registry: ViewReader<RegistryRow, string>,
  position: Position,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { table } = registry;
    const reached = (await store.positions(table))[position.partition];
    if (reached !== undefined && compareOffsets(reached, position.offset) >= 0) return;
    if (Date.now() > deadline) {
      throw new RetailError(
        'REGISTRY_BEHIND',
        `photo assignment: the photographer registry (${table}) has not folded partition ${position.partition}, offset ${position.offset} within ${timeoutMs} ms; is its view running?`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface PhotoAssignmentOptions extends PhotoAssignerOptions {
  readonly checkpoints: CheckpointStore;
  readonly deadLetters: DeadLetterSink;
  /** The consumer group. Default `photo-assignment`. */
  readonly group?: string;
  /** Called for each assignment made. */
  readonly onAssigned?: (assignment: Assignment) => void;
}

/**
 * The photo-assignment service: a consumer of the retail stream that reacts
 * to `product/create`, `product/image`, `photo/unassigned` and
 * `user-info/update-phone` by assigning waiting products to free
 * photographers (see {@link photoAssigner}). Completing an assignment is the
 * registry's fold of `product/image`; here it frees the photographer for the
 * next waiting product.
 *
 * @example
 * const service = photoAssignment({ log, store, checkpoints, deadLetters });
 * await service.consumer.start();
 * await service.consumer.caughtUp();
 * await service.stop();
 */
export function photoAssignment(options: PhotoAssignmentOptions): { readonly consumer: Consumer; stop(): Promise<void> } {
  const assigner = photoAssigner(options);
  const consumer = createConsumer({
    log: options.log,
    catalog: retailCatalog,
    group: options.group ?? 'photo-assignment',
    checkpoints: options.checkpoints,
    deadLetters: options.deadLetters,
    handlers: photoAssignmentHandlers(assigner, options.onAssigned ? { onAssigned: options.onAssigned } : {}),
  });
  return {
    consumer,
    async stop() {
      await consumer.stop();
      await assigner.close();
    },
  };
}

/**
 * The photo-assignment service's handler map, as {@link photoAssignment}
 * passes it to `createConsumer`: the events that may let a waiting product
 * and a free photographer meet go to `assigner.react`, the others are
 * ignored. Exported so tests (and a Lambda handler) use the very map the
 * service runs.
 *
 * @example
 * const assigner = photoAssigner({ log, store });
 * const consumer = createConsumer({ log, catalog: retailCatalog, group, checkpoints, deadLetters, handlers: photoAssignmentHandlers(assigner) });
 */
export function photoAssignmentHandlers(
  assigner: PhotoAssigner,
  options: { readonly onAssigned?: (assignment: Assignment) => void } = {},
): ConsumerHandlers<typeof retailCatalog> {
  const react = async (event: RetailEvent, context: { readonly position: Position }) => {
    const made = await assigner.react(event, context.position);
    for (const assignment of made) options.onAssigned?.(assignment);
  };
  return {
    'product/create': react,
    'product/image': react,
    'photo/unassigned': react,
    'user-info/update-phone': react,
    'product/purchase': ignore,
    'user-info/login': ignore,
    'photo/assigned': ignore,
  };
}
