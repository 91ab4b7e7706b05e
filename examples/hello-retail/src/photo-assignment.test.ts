import type { ConsumerHandlers } from '@riverlog/consumer';
import { type HandlerOutcome, type HandlerWiring, handlerSpec } from '@riverlog/testing';
import { openView } from '@riverlog/view-builder';
import { afterEach, describe, expect, it } from 'vitest';
import { retailCatalog } from './catalog.js';
import { derivedEventId } from './domain.js';
import {
  type Assignment,
  PHOTO_ASSIGNMENT_SOURCE,
  type PhotoAssigner,
  photoAssigner,
  photoAssignmentHandlers,
} from './photo-assignment.js';
import { photographerRegistryView } from './photographer-registry.js';
import { bought, created, phone } from './testing/events.js';
import { logEnds } from './testing/harness.js';

type RetailHandlers = ConsumerHandlers<typeof retailCatalog>;

const assigners: PhotoAssigner[] = [];
afterEach(async () => {
  await Promise.all(assigners.splice(0).map((assigner) => assigner.close()));
});

/** The service's own handler map (the one `photoAssignment` gives `createConsumer`), on the spec's log and store. */
function serviceHandlers(
  wiring: HandlerWiring,
  options: { registryTimeoutMs?: number; onAssigned?: (assignment: Assignment) => void } = {},
): RetailHandlers {
  const { onAssigned, registryTimeoutMs } = options;
  const assigner = photoAssigner({ ...wiring, ...(registryTimeoutMs === undefined ? {} : { registryTimeoutMs }) });
  assigners.push(assigner);
  return photoAssignmentHandlers(assigner, onAssigned ? { onAssigned } : {});
}

/** Hands an event the consumer handled to its handler again, as a redelivery would (same event, same position). */
async function deliverAgain(handlers: RetailHandlers, handled: HandlerOutcome): Promise<void> {
  const decoded = retailCatalog.decode(handled.event, handled.position);
  if (decoded._tag === 'Left') throw decoded.left;
  const handler = handlers[decoded.right.type];
  if (typeof handler !== 'function') throw new Error(`the service ignores ${decoded.right.type}`);
  await handler(decoded.right as never, {
    group: 'photo-assignment',
    position: handled.position,
    attempt: 1,
    signal: new AbortController().signal,
    record: { event: handled.event, position: handled.position },
  });
}

describe('the photo-assignment service (handlerSpec)', () => {
  // The registry view the service decides from is built beside it, on the same log and store.
  const spec = handlerSpec({ catalog: retailCatalog, views: [photographerRegistryView], handlers: (wiring) => serviceHandlers(wiring) });

  it('assigns a created product to the registered photographer, with an id derived from the event that caused it', async () => {
    const made: Assignment[] = [];
    const scenario = handlerSpec({
      catalog: retailCatalog,
      views: [photographerRegistryView],
      handlers: (wiring) => serviceHandlers(wiring, { onAssigned: (assignment) => made.push(assignment) }),
    }).given(phone('pia', '555 010 0101'), created('p-boot', { time: '08:20' }), bought('p-boot'));
    const run = await scenario.thenOutcomes(['handled', 'handled', 'ignored']);
    await scenario.thenEmitted([
      { type: 'photo/assigned', subject: 'p-boot', source: PHOTO_ASSIGNMENT_SOURCE, data: { id: 'p-boot', photographer: 'pia' } },
    ]);
    // The registration and the creation may be handled in either order (two partitions): either may be the cause.
    const [assignment] = run.emitted;
    const causes = run.outcomes.slice(0, 2).map((o) => o.event.id);
    expect(causes).toContain(assignment?.causationid);
    expect(assignment?.id).toBe(derivedEventId(assignment?.causationid ?? '', 'photo/assigned:p-boot'));
    // The service reports what it emitted.
    expect(made).toEqual([{ product: 'p-boot', photographer: 'pia', eventId: assignment?.id, position: expect.any(Object) }]);
  });

  it('assigns nothing while no photographer is registered: the product waits', async () => {
    await spec.given(created('p-tent', { time: '08:40' })).thenEmitted([]);
  });

  it('assigns one photographer one product at a time', async () => {
    const run = await spec
      .given(phone('raj', '555 010 0102'), created('p-tent', { time: '08:40' }), created('p-watch', { time: '10:30' }))
      .run();
    expect(run.emitted.map((e) => e.type)).toEqual(['photo/assigned']);
    expect(run.outcomes.every((o) => o.outcome === 'handled')).toBe(true);
  });

  it('does nothing with a trigger delivered again: the product is assigned already, though another photographer is free', async () => {
    let handlers: RetailHandlers | undefined;
    let wired: HandlerWiring | undefined;
    const run = await handlerSpec({
      catalog: retailCatalog,
      views: [photographerRegistryView],
      handlers: (wiring) => {
        wired = wiring;
        handlers = serviceHandlers(wiring);
        return handlers;
      },
    })
      .given(phone('pia', '555 010 0101'), phone('raj', '555 010 0102'), created('p-boot', { time: '08:20' }))
      .thenEmitted((emitted) => emitted.length === 1 && emitted[0]?.type === 'photo/assigned');
    if (!handlers || !wired) throw new Error('the spec did not build the handlers');
    const { rows: free } = await openView(photographerRegistryView, wired.store).list({ index: 'free' });
    expect(free).toHaveLength(1);
    const ends = await logEnds(wired.log);
    await deliverAgain(handlers, run.outcomes[2] as HandlerOutcome);
    expect(await logEnds(wired.log)).toEqual(ends);
  });

  it('retries a reaction while the registry is behind, then dead-letters it with HANDLER_FAILED', async () => {
    // No registry view runs: the service waits for it (50 ms), gives up, and the consumer retries, then dead-letters.
    await handlerSpec({
      catalog: retailCatalog,
      retry: { attempts: 2 },
      handlers: (wiring) => serviceHandlers(wiring, { registryTimeoutMs: 50 }),
    })
      .given(created('p-boot', { time: '08:20' }), bought('p-boot'))
      .thenOutcomes([{ outcome: 'dead-lettered', code: 'HANDLER_FAILED', attempts: 2 }, 'ignored']);
  });
});
