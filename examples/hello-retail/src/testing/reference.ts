// A reference model of every view, for tests: computed per entity from that
// entity's own story (its events in log order), never by folding across
// entities. It shares no code with the views but the small helpers of domain.ts.
import type { RetailEvent } from '../catalog.js';
import { creatorOf, normalisePhone } from '../domain.js';
import type { Photographer, ProductAssignment } from '../photographer-registry.js';
import type { Category, Product } from '../product-catalog.js';
import type { Contribution, Score } from '../winner.js';

export interface ReferenceViews {
  readonly categories: Record<string, Category>;
  readonly products: Record<string, Product>;
  readonly registry: Record<string, Photographer | ProductAssignment>;
  readonly contributions: Record<string, Contribution | Score>;
}

type ProductEvent = Extract<RetailEvent, { type: `product/${string}` | `photo/${string}` }>;

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

const sorted = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The views as they must be after folding `events`, given in an order that keeps each subject's order. */
export function referenceViews(events: readonly RetailEvent[]): ReferenceViews {
  const productEvents = events.filter((e): e is ProductEvent => e.type.startsWith('product/') || e.type.startsWith('photo/'));
  const stories = groupBy(productEvents, (e) => e.data.id);

  const categories: Record<string, Category> = {};
  const creates = productEvents.filter((e) => e.type === 'product/create');
  for (const [category, made] of groupBy(creates, (e) => e.data.category)) {
    const first = [...made].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.data.id < b.data.id ? -1 : 1))[0];
    if (first) categories[category] = { category, createdBy: creatorOf(first.source), createdAt: first.time, firstProduct: first.data.id };
  }

  const products: Record<string, Product> = {};
  const registry: Record<string, Photographer | ProductAssignment> = {};
  const contributions: Record<string, Contribution | Score> = {};
  const completed = new Map<string, number>();
  const open = new Map<string, string[]>();
  const creatorPoints = new Map<string, number>();
  const photographerPoints = new Map<string, number>();
  const add = (map: Map<string, number>, who: string, n: number) => map.set(who, (map.get(who) ?? 0) + n);
  const photographersSeen = new Set<string>();

  for (const [id, story] of stories) {
    const create = story.find((e) => e.type === 'product/create');
    const images = story.filter((e) => e.type === 'product/image');
    const lastImage = images[images.length - 1];
    if (create || lastImage)
      products[id] = {
        id,
        brand: create?.data.brand ?? '',
        name: create?.data.name ?? '',
        description: create?.data.description ?? '',
        category: create?.data.category ?? '',
        creator: create ? creatorOf(create.source) : '',
        image: lastImage ? lastImage.data.image : null,
      };

    // Walk the product's own story once, as a small state machine.
    let assignee: string | null = null;
    let shooter: string | null = null;
    let photographed = false;
    const released: string[] = [];
    let purchases = 0;
    let creatorShare = 0;
    let photographerShare = 0;
    const creator = create ? creatorOf(create.source) : null;
    for (const event of story) {
      switch (event.type) {
        case 'photo/assigned':
          if (!photographed) {
            photographersSeen.add(event.data.photographer);
            assignee = event.data.photographer;
          }
          break;
        case 'photo/unassigned':
          photographersSeen.add(event.data.photographer);
          if (!released.includes(event.data.photographer)) released.push(event.data.photographer);
          if (assignee === event.data.photographer) assignee = null;
          break;
        case 'product/image':
          if (!photographed) {
            photographed = true;
            if (assignee !== null) add(completed, assignee, 1);
            shooter = assignee;
          }
          break;
        case 'product/purchase':
          purchases++;
          if (creator !== null) creatorShare++;
          if (shooter !== null) photographerShare++;
          break;
      }
    }
    if (!photographed && assignee !== null) open.set(assignee, [...(open.get(assignee) ?? []), id].sort());
    if (story.some((e) => e.type !== 'product/purchase'))
      registry[`product:${id}`] = {
        kind: 'product',
        id,
        createdAt: create?.time ?? null,
        photographer: photographed ? shooter : assignee,
        photographed,
        released: released.sort(),
      };
    contributions[`product:${id}`] = {
      kind: 'product',
      id,
      creator,
      assigned: photographed ? null : assignee,
      photographed,
      photographer: shooter,
      purchases,
      creatorPoints: creatorShare,
      photographerPoints: photographerShare,
    };
    if (creator !== null && creatorShare > 0) add(creatorPoints, creator, creatorShare);
    if (shooter !== null && photographerShare > 0) add(photographerPoints, shooter, photographerShare);
  }

  const phones = groupBy(
    events.filter((e) => e.type === 'user-info/update-phone'),
    (e) => e.data.id,
  );
  for (const who of new Set([...phones.keys(), ...photographersSeen])) {
    const updates = phones.get(who) ?? [];
    const last = updates[updates.length - 1];
    registry[`photographer:${who}`] = {
      kind: 'photographer',
      id: who,
      phone: last ? normalisePhone(last.data.phone) : null,
      registrations: updates.length,
      completed: completed.get(who) ?? 0,
      assignments: open.get(who) ?? [],
    };
  }

  const logins = groupBy(
    events.filter((e) => e.type === 'user-info/login'),
    (e) => e.data.id,
  );
  const people = new Set([...logins.keys(), ...creatorPoints.keys(), ...photographerPoints.keys()]);
  for (const who of people) {
    const seen = logins.get(who) ?? [];
    contributions[`person:${who}`] = {
      kind: 'person',
      id: who,
      name: seen.length > 0 ? (seen[seen.length - 1]?.data.name ?? null) : null,
      creatorPoints: creatorPoints.get(who) ?? 0,
      photographerPoints: photographerPoints.get(who) ?? 0,
    };
  }

  return {
    categories: sorted(categories) as Record<string, Category>,
    products: sorted(products) as Record<string, Product>,
    registry: sorted(registry) as Record<string, Photographer | ProductAssignment>,
    contributions: sorted(contributions) as Record<string, Contribution | Score>,
  };
}
