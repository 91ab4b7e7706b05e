import { ignore } from '@riverlog/core';
import { type HandlerWiring, handlerSpec } from '@riverlog/testing';
import { describe, expect, it } from 'vitest';
import { retailCatalog } from './catalog.js';
import { derivedEventId } from './domain.js';
import { PHOTO_ASSIGNMENT_SOURCE, photoAssigner } from './photo-assignment.js';
import { photographerRegistryView } from './photographer-registry.js';

const at = (hhmm: string) => `2026-03-14T${hhmm}:00.000Z`;
const created = (id: string, time: string) => ({
  type: 'product/create' as const,
  subject: id,
  data: { id, brand: 'B', name: `Product ${id}`, description: '-', category: 'C' },
  time: at(time),
});
const phone = (id: string, number: string) => ({ type: 'user-info/update-phone' as const, subject: id, data: { id, phone: number } });
const bought = (id: string) => ({ type: 'product/purchase' as const, subject: id, data: { id } });

/** The photo-assignment service's handler map, as `photoAssignment` passes it to `createConsumer`. */
function assignmentHandlers({ log, store }: HandlerWiring, registryTimeoutMs?: number) {
  const assigner = photoAssigner({ log, store, ...(registryTimeoutMs === undefined ? {} : { registryTimeoutMs }) });
  const react = async (
    event: Parameters<typeof assigner.react>[0],
    context: { readonly position: Parameters<typeof assigner.react>[1] },
  ) => {
    await assigner.react(event, context.position);
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

describe('the photo-assignment service (handlerSpec)', () => {
  // The registry view the service decides from is built beside it, on the same log and store.
  const spec = handlerSpec({ catalog: retailCatalog, views: [photographerRegistryView], handlers: (wiring) => assignmentHandlers(wiring) });

  it('assigns a created product to the registered photographer, with an id derived from the event that caused it', async () => {
    const scenario = spec.given(phone('pia', '555 010 0101'), created('p-boot', '08:20'), bought('p-boot'));
    const run = await scenario.thenOutcomes(['handled', 'handled', 'ignored']);
    await scenario.thenEmitted([
      { type: 'photo/assigned', subject: 'p-boot', source: PHOTO_ASSIGNMENT_SOURCE, data: { id: 'p-boot', photographer: 'pia' } },
    ]);
    // The registration and the creation may be handled in either order (two partitions): either may be the cause.
    const [assignment] = run.emitted;
    const causes = run.outcomes.slice(0, 2).map((o) => o.event.id);
    expect(causes).toContain(assignment?.causationid);
    expect(assignment?.id).toBe(derivedEventId(assignment?.causationid ?? '', 'photo/assigned:p-boot'));
  });

  it('assigns nothing while no photographer is registered: the product waits', async () => {
    await spec.given(created('p-tent', '08:40')).thenEmitted([]);
  });

  it('assigns one photographer one product at a time', async () => {
    const run = await spec.given(phone('raj', '555 010 0102'), created('p-tent', '08:40'), created('p-watch', '10:30')).run();
    expect(run.emitted.map((e) => e.type)).toEqual(['photo/assigned']);
    expect(run.outcomes.every((o) => o.outcome === 'handled')).toBe(true);
  });

  it('retries a reaction while the registry is behind, then dead-letters it with HANDLER_FAILED', async () => {
    // No registry view runs: the service waits for it (50 ms), gives up, and the consumer retries, then dead-letters.
    await handlerSpec({ catalog: retailCatalog, retry: { attempts: 2 }, handlers: (wiring) => assignmentHandlers(wiring, 50) })
      .given(created('p-boot', '08:20'), bought('p-boot'))
      .thenOutcomes([{ outcome: 'dead-lettered', code: 'HANDLER_FAILED', attempts: 2 }, 'ignored']);
  });
});
