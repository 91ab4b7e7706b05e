// The retail events the specs are given, written as `createEvent` takes
// them (the kit makes the envelopes). Each subject is a partition of its own
// in a viewSpec unless a test says otherwise.
import type { CreateInput } from '@riverlog/testing';
import type { retailCatalog } from '../catalog.js';
import { merchantSource } from '../domain.js';
import { DAY } from '../scenario.js';

type Given = CreateInput<typeof retailCatalog>;
type GivenOf<T extends Given['type']> = Extract<Given, { type: T }>;

/** `HH:MM` on the scripted day, as an event time. */
export const at = (hhmm: string): string => `${DAY}T${hhmm}:00.000Z`;

/** A merchant (`by`, a user id) creates a product at `time` (`HH:MM`). */
export const created = (
  id: string,
  { by = 'ann', time = '08:00', category = 'C', name = `Product ${id}`, brand = 'B' } = {},
): GivenOf<'product/create'> => ({
  type: 'product/create',
  subject: id,
  data: { id, brand, name, description: `${name} by ${brand}`, category },
  source: merchantSource(by, by),
  time: at(time),
});

/** A photo of a product arrives. */
export const imaged = (id: string, by = 'x'): GivenOf<'product/image'> => ({
  type: 'product/image',
  subject: id,
  data: { id, image: `https://images.example.com/${id}/${by}.jpg` },
});

export const bought = (id: string): GivenOf<'product/purchase'> => ({ type: 'product/purchase', subject: id, data: { id } });

export const login = (id: string, name: string): GivenOf<'user-info/login'> => ({
  type: 'user-info/login',
  subject: id,
  data: { id, name },
});

/** A photographer registers (or changes) a phone number. */
export const phone = (id: string, number: string): GivenOf<'user-info/update-phone'> => ({
  type: 'user-info/update-phone',
  subject: id,
  data: { id, phone: number },
});

export const assigned = (id: string, photographer: string): GivenOf<'photo/assigned'> => ({
  type: 'photo/assigned',
  subject: id,
  data: { id, photographer },
});

export const unassigned = (id: string, photographer: string): GivenOf<'photo/unassigned'> => ({
  type: 'photo/unassigned',
  subject: id,
  data: { id, photographer },
});
