import { beforeAll, describe, expect, it } from 'vitest';
import { derivedEventId } from './domain.js';
import { PHOTO_ASSIGNMENT_SOURCE } from './photo-assignment.js';
import type { Photographer, ProductAssignment } from './photographer-registry.js';
import type { Product } from './product-catalog.js';
import { DAY } from './scenario.js';
import { decodeAll, dumpViews, type PlayedDay, playOnMemory, recordsByPartition } from './testing/harness.js';
import { referenceViews } from './testing/reference.js';
import type { Contribution, Score } from './winner.js';
import { winners } from './winner.js';

const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;
const image = (product: string, by: string) => `https://images.example.com/${product}/${by}.jpg`;

const product = (id: string, brand: string, name: string, category: string, creator: string, img: string | null): Product => ({
  id,
  brand,
  name,
  description: `${name} by ${brand}`,
  category,
  creator,
  image: img,
});
const photographer = (id: string, phone: string, registrations: number, completed: number, assignments: string[]): Photographer => ({
  kind: 'photographer',
  id,
  phone,
  registrations,
  completed,
  assignments,
});
const assignment = (
  id: string,
  createdAt: string,
  who: string | null,
  photographed: boolean,
  released: string[] = [],
): ProductAssignment => ({
  kind: 'product',
  id,
  createdAt: at(createdAt),
  photographer: who,
  photographed,
  released,
});
const contribution = (
  id: string,
  creator: string,
  assigned: string | null,
  shooter: string | null,
  purchases: number,
  creatorPoints: number,
  photographerPoints: number,
): Contribution => ({
  kind: 'product',
  id,
  creator,
  assigned,
  photographed: shooter !== null,
  photographer: shooter,
  purchases,
  creatorPoints,
  photographerPoints,
});
const score = (id: string, name: string, creatorPoints: number, photographerPoints: number): Score => ({
  kind: 'person',
  id,
  name,
  creatorPoints,
  photographerPoints,
});

/** The views after the scripted day, worked out by hand from the script. */
const expected = {
  categories: {
    Accessories: { category: 'Accessories', createdBy: 'ann', createdAt: at('08:50'), firstProduct: 'p-scarf' },
    Outdoor: { category: 'Outdoor', createdBy: 'ben', createdAt: at('08:40'), firstProduct: 'p-tent' },
    Shoes: { category: 'Shoes', createdBy: 'ann', createdAt: at('08:20'), firstProduct: 'p-boot' },
  },
  products: {
    'p-boot': product('p-boot', 'Trailhead', 'Hiking Boot', 'Shoes', 'ann', image('p-boot', 'pia')),
    'p-sandal': product('p-sandal', 'Sunny', 'Beach Sandal', 'Shoes', 'ben', image('p-sandal', 'raj')),
    'p-scarf': product('p-scarf', 'Loom', 'Wool Scarf', 'Accessories', 'ann', image('p-scarf', 'pia')),
    'p-tent': product('p-tent', 'Summit', 'Two-person Tent', 'Outdoor', 'ben', null),
    'p-watch': product('p-watch', 'Tick', 'Field Watch', 'Accessories', 'ben', null),
  },
  registry: {
    'photographer:pia': photographer('pia', '+15550100101', 1, 2, []),
    'photographer:raj': photographer('raj', '+15550100102', 1, 1, ['p-tent']),
    'photographer:sol': photographer('sol', '+15550100199', 2, 0, ['p-watch']),
    'product:p-boot': assignment('p-boot', '08:20', 'pia', true),
    'product:p-sandal': assignment('p-sandal', '08:30', 'raj', true),
    'product:p-scarf': assignment('p-scarf', '08:50', 'pia', true),
    'product:p-tent': assignment('p-tent', '08:40', 'raj', false, ['sol']),
    'product:p-watch': assignment('p-watch', '10:30', 'sol', false),
  },
  contributions: {
    'person:ann': score('ann', 'Ann Archer', 6, 0),
    'person:ben': score('ben', 'Ben Baker', 3, 0),
    'person:cy': score('cy', 'Cy Chen', 0, 0),
    'person:pia': score('pia', 'Pia Park', 0, 5),
    'person:raj': score('raj', 'Raj Rao', 0, 2),
    'person:sol': score('sol', 'Sol Stone', 0, 0),
    'product:p-boot': contribution('p-boot', 'ann', null, 'pia', 2, 2, 2),
    'product:p-sandal': contribution('p-sandal', 'ben', null, 'raj', 3, 3, 2),
    'product:p-scarf': contribution('p-scarf', 'ann', null, 'pia', 4, 4, 3),
    'product:p-tent': contribution('p-tent', 'ben', 'raj', null, 0, 0, 0),
    'product:p-watch': contribution('p-watch', 'ben', 'sol', null, 0, 0, 0),
  },
};

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
