import { beforeAll, describe, expect, it } from 'vitest';
import { derivedEventId } from './domain.js';
import { PHOTO_ASSIGNMENT_SOURCE } from './photo-assignment.js';
import { expectedDay as expected } from './testing/expected-day.js';
import { decodeAll, dumpViews, type PlayedDay, playOnMemory, recordsByPartition } from './testing/harness.js';
import { referenceViews } from './testing/reference.js';
import { winners } from './winner.js';

// End to end: the day played through the producers onto a log, with the
// photo-assignment service and every view builder running. What each view
// folds from the day's events, delivered twice or with partitions
// interleaved, is specified view by view with viewSpec (winner.test.ts,
// product-catalog.test.ts, photographer-registry.test.ts).

describe('the scripted day', () => {
  let day: PlayedDay;
  beforeAll(async () => {
    day = await playOnMemory();
  });

  it('leaves every view exactly as worked out by hand', async () => {
    expect(await dumpViews(day.store)).toEqual(expected);
  });

  it('agrees with the reference model computed from the log', async () => {
    const events = decodeAll([...(await recordsByPartition(day.log)).values()].flat());
    expect(referenceViews(events)).toEqual(expected);
  });

  it('the reference model is itself order-sensitive where it must be: a reordered subject changes it', async () => {
    // Guard against a vacuous oracle: moving a product's image before its assignment must change the result.
    const events = decodeAll([...(await recordsByPartition(day.log)).values()].flat());
    const image = events.findIndex((e) => e.type === 'product/image' && e.data.id === 'p-boot');
    const reordered = [...events];
    const [moved] = reordered.splice(image, 1);
    const assignedAt = reordered.findIndex((e) => e.type === 'photo/assigned' && e.data.id === 'p-boot');
    reordered.splice(assignedAt, 0, moved as (typeof events)[number]);
    expect(referenceViews(reordered)).not.toEqual(expected);
  });

  it('names the winners', async () => {
    const top = await winners(day.store);
    expect(top.creator).toEqual(expected.contributions['person:ann']);
    expect(top.photographer).toEqual(expected.contributions['person:pia']);
  });

  it('assigns photographers as the script says, each assignment caused by the event that triggered it', async () => {
    expect(day.assignments.map((a) => `${a.photographer}→${a.product}`)).toEqual([
      'pia→p-boot',
      'raj→p-sandal',
      'sol→p-tent',
      'pia→p-scarf',
      'raj→p-tent',
      'sol→p-watch',
    ]);
    const events = decodeAll([...(await recordsByPartition(day.log)).values()].flat());
    const byId = new Map(events.map((event) => [event.id, event]));
    const assigned = events.filter((event) => event.type === 'photo/assigned');
    expect(assigned).toHaveLength(6);
    const causes = assigned.map((event) => {
      const cause = byId.get(event.causationid ?? '');
      expect(event.source).toBe(PHOTO_ASSIGNMENT_SOURCE);
      expect(event.id).toBe(derivedEventId(cause?.id ?? '?', `photo/assigned:${event.data.id}`));
      return `${event.data.id} ← ${cause?.type} ${cause?.subject}`;
    });
    expect(causes.sort()).toEqual([
      'p-boot ← product/create p-boot',
      'p-sandal ← product/create p-sandal',
      'p-scarf ← product/image p-boot',
      'p-tent ← product/image p-sandal',
      'p-tent ← user-info/update-phone sol',
      'p-watch ← product/create p-watch',
    ]);
  });

  it('stores the envelope that was sent twice once', async () => {
    expect(day.report.resent).toHaveLength(1);
    const [{ id, first, second }] = day.report.resent as [(typeof day.report.resent)[number]];
    expect(second).toEqual(first);
    const all = [...(await recordsByPartition(day.log)).values()].flat();
    expect(all.filter((record) => (record.event as { id: string }).id === id)).toHaveLength(1);
  });

  it('refuses the invalid event naming each bad field, writes nothing and dead-letters nothing', async () => {
    expect(day.report.refused).toHaveLength(1);
    const [refused] = day.report.refused;
    expect(refused?.code).toBe('VALIDATION_FAILED');
    expect(refused?.message).toContain('data.image: expected http(s) URL, got "tent.jpg"');
    expect(refused?.message).toContain('data.colour: expected no such field');
    const images = decodeAll([...(await recordsByPartition(day.log)).values()].flat()).filter((e) => e.type === 'product/image');
    expect(images.map((e) => e.data.id).sort()).toEqual(['p-boot', 'p-sandal', 'p-scarf']);
    expect(day.deadLetters.letters).toEqual([]);
  });
});
