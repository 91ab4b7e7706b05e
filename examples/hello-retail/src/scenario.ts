import { type EventLog, type Position, ulid, ValidationError } from '@riverlog/core';
import { createProducer, type EmitItem, type Producer } from '@riverlog/producer';
import { retailCatalog } from './catalog.js';
import { merchantSource, photographerSource } from './domain.js';

type RetailDefinitions = (typeof retailCatalog)['definitions'][number];
/** One event an actor emits, checked against the catalog at compile time. */
export type RetailEmit = EmitItem<RetailDefinitions>;

/** The people of the day. Their ids are the subjects of their `user-info/*` events. */
export const people = {
  ann: { id: 'ann', name: 'Ann Archer', role: 'merchant' },
  ben: { id: 'ben', name: 'Ben Baker', role: 'merchant' },
  pia: { id: 'pia', name: 'Pia Park', role: 'photographer', phone: '(555) 010-0101' },
  raj: { id: 'raj', name: 'Raj Rao', role: 'photographer', phone: '555.010.0102' },
  sol: { id: 'sol', name: 'Sol Stone', role: 'photographer', phone: '1 555 010 0103' },
  cy: { id: 'cy', name: 'Cy Chen', role: 'customer' },
} as const;

type PersonId = keyof typeof people;

/** The day's date; each step happens at its `at` time on it (UTC). */
export const DAY = '2026-03-14';

/** What happens in one step. */
export type Act =
  /** `by` emits `events` through its own producer (its `source` names who acted). */
  | { readonly kind: 'emit'; readonly by: string; readonly events: readonly RetailEmit[] }
  /** A flaky client sends `event` twice: the same envelope (same id, time and source). */
  | { readonly kind: 'resend'; readonly by: string; readonly event: RetailEmit }
  /** An untyped client sends a payload the catalog refuses. */
  | { readonly kind: 'invalid'; readonly by: string; readonly type: string; readonly subject: string; readonly data: unknown };

export interface Step {
  /** `HH:MM` on {@link DAY}. */
  readonly at: string;
  readonly says: string;
  readonly acts: readonly Act[];
}

const web = (who: PersonId) => `hello-retail/web-client/${who}/${people[who].name}`;
const merchant = (who: 'ann' | 'ben') => merchantSource(who, people[who].name);
const photographer = (who: 'pia' | 'raj' | 'sol') => photographerSource(people[who].phone, people[who].name);
const timer = 'hello-retail/photo-assignment/timer';

const login = (who: PersonId): Act => ({
  kind: 'emit',
  by: web(who),
  events: [{ type: 'user-info/login', subject: who, data: { id: who, name: people[who].name } }],
});
const register = (who: 'pia' | 'raj' | 'sol', phone: string = people[who].phone): Act => ({
  kind: 'emit',
  by: web(who),
  events: [{ type: 'user-info/update-phone', subject: who, data: { id: who, phone } }],
});
const create = (who: 'ann' | 'ben', id: string, brand: string, name: string, category: string): Act => ({
  kind: 'emit',
  by: merchant(who),
  events: [{ type: 'product/create', subject: id, data: { id, brand, name, description: `${name} by ${brand}`, category } }],
});
const photo = (who: 'pia' | 'raj' | 'sol', id: string): Act => ({
  kind: 'emit',
  by: photographer(who),
  events: [{ type: 'product/image', subject: id, data: { id, image: `https://images.example.com/${id}/${who}.jpg` } }],
});
const buy = (id: string, times = 1): Act => ({
  kind: 'emit',
  by: web('cy'),
  events: Array.from({ length: times }, () => ({ type: 'product/purchase', subject: id, data: { id } }) as const),
});

/**
 * A scripted day of Hello Retail. The photo-assignment service reacts
 * between steps; its expected decisions are in each step's `says`.
 */
export const retailDay: readonly Step[] = [
  { at: '08:00', says: 'Everyone logs in', acts: (Object.keys(people) as PersonId[]).map(login) },
  { at: '08:05', says: 'Pia and Raj register as photographers', acts: [register('pia'), register('raj')] },
  {
    at: '08:20',
    says: 'Ann creates a Hiking Boot (Shoes) → Pia is assigned',
    acts: [create('ann', 'p-boot', 'Trailhead', 'Hiking Boot', 'Shoes')],
  },
  {
    at: '08:30',
    says: 'Ben creates a Beach Sandal (Shoes) → Raj is assigned',
    acts: [create('ben', 'p-sandal', 'Sunny', 'Beach Sandal', 'Shoes')],
  },
  {
    at: '08:40',
    says: 'Ben creates a Two-person Tent (Outdoor) → nobody free: it waits',
    acts: [create('ben', 'p-tent', 'Summit', 'Two-person Tent', 'Outdoor')],
  },
  { at: '08:45', says: 'Sol registers → takes the waiting tent', acts: [register('sol')] },
  {
    at: '08:50',
    says: 'Ann creates a Wool Scarf (Accessories) → nobody free: it waits',
    acts: [create('ann', 'p-scarf', 'Loom', 'Wool Scarf', 'Accessories')],
  },
  { at: '09:00', says: "Pia's photo of the boot arrives → Pia takes the waiting scarf", acts: [photo('pia', 'p-boot')] },
  { at: '09:10', says: 'Cy buys two boots (after their photo) and a sandal (before its photo)', acts: [buy('p-boot', 2), buy('p-sandal')] },
  {
    at: '09:20',
    says: "Sol's assignment to the tent times out and is released",
    acts: [
      { kind: 'emit', by: timer, events: [{ type: 'photo/unassigned', subject: 'p-tent', data: { id: 'p-tent', photographer: 'sol' } }] },
    ],
  },
  {
    at: '09:30',
    says: "Raj's photo of the sandal arrives → Raj takes the tent (Sol was released from it)",
    acts: [photo('raj', 'p-sandal')],
  },
  { at: '09:40', says: 'Sol changes phone number', acts: [register('sol', '555-010-0199')] },
  { at: '09:50', says: 'Cy buys two sandals and a scarf (before its photo)', acts: [buy('p-sandal', 2), buy('p-scarf')] },
  { at: '10:00', says: "Pia's photo of the scarf arrives", acts: [photo('pia', 'p-scarf')] },
  {
    at: '10:10',
    says: "Cy buys three scarves; the client's connection drops and it sends the last purchase again",
    acts: [
      buy('p-scarf', 2),
      { kind: 'resend', by: web('cy'), event: { type: 'product/purchase', subject: 'p-scarf', data: { id: 'p-scarf' } } },
    ],
  },
  {
    at: '10:20',
    says: 'An old client sends a photo with a file name for a URL and an extra field',
    acts: [
      {
        kind: 'invalid',
        by: photographer('raj'),
        type: 'product/image',
        subject: 'p-tent',
        data: { id: 'p-tent', image: 'tent.jpg', colour: 'green' },
      },
    ],
  },
  {
    at: '10:30',
    says: 'Ben creates a Field Watch (Accessories) → Sol is assigned',
    acts: [create('ben', 'p-watch', 'Tick', 'Field Watch', 'Accessories')],
  },
];

/** What happened while a day was played, beyond the events themselves. */
export interface DayReport {
  readonly emitted: number;
  /** The resent envelope's positions: the same both times, as the log stores an id once. */
  readonly resent: { readonly id: string; readonly first: Position; readonly second: Position }[];
  /** The refused events' errors. */
  readonly refused: ValidationError[];
}

export interface PlayOptions {
  readonly log: EventLog;
  /** Called after each step: let the services react and the views catch up. */
  readonly settle?: () => Promise<void>;
  /** Called as each step begins. */
  readonly onStep?: (step: Step) => void;
  /** Called when an envelope was sent twice, with the position of each append. */
  readonly onResent?: (resent: DayReport['resent'][number]) => void;
  /** Called when an invalid event was refused. */
  readonly onRefused?: (error: ValidationError) => void;
  readonly day?: readonly Step[];
}

/**
 * Plays a scripted day onto a log: each actor emits through a producer with
 * its own `source`, at the step's time; `settle` runs between steps.
 *
 * @example
 * const report = await playDay({ log, settle: () => services.settle() });
 */
export async function playDay(options: PlayOptions): Promise<DayReport> {
  const producers = new Map<string, Producer<RetailDefinitions>>();
  const producerFor = (source: string) => {
    let producer = producers.get(source);
    if (!producer) {
      producer = createProducer({ log: options.log, catalog: retailCatalog, source });
      producers.set(source, producer);
    }
    return producer;
  };
  let emitted = 0;
  const resent: DayReport['resent'][number][] = [];
  const refused: ValidationError[] = [];
  try {
    for (const step of options.day ?? retailDay) {
      const time = `${DAY}T${step.at}:00.000Z`;
      options.onStep?.(step);
      for (const act of step.acts) {
        const producer = producerFor(act.by);
        if (act.kind === 'emit') {
          await producer.emitMany(act.events.map((event) => ({ ...event, meta: { ...event.meta, time } }) as RetailEmit));
          emitted += act.events.length;
        } else if (act.kind === 'resend') {
          const meta = { ...act.event.meta, id: ulid(), time };
          const again = { ...act.event, meta } as RetailEmit;
          const [first] = await producer.emitMany([again]);
          const [second] = await producer.emitMany([again]);
          if (!first || !second) throw new Error(`emitMany resolved no result for the resent ${act.event.type}`);
          const twice = { id: meta.id, first: first.position, second: second.position };
          resent.push(twice);
          options.onResent?.(twice);
          emitted += 1;
        } else {
          try {
            await producer.emit(act.type as never, act.subject, act.data as never, { time });
            throw new Error(`The invalid ${act.type} event of ${step.at} was accepted`);
          } catch (error) {
            if (!(error instanceof ValidationError)) throw error;
            refused.push(error);
            options.onRefused?.(error);
          }
        }
      }
      await options.settle?.();
    }
  } finally {
    await Promise.all([...producers.values()].map((producer) => producer.close()));
  }
  return { emitted, resent, refused };
}
