// The rows of every view after the scripted day, worked out by hand from the
// script: the end-to-end tests compare the live views with them, the view
// specs the rows their views fold from the day's events.
import type { Photographer, ProductAssignment } from '../photographer-registry.js';
import type { Product } from '../product-catalog.js';
import { DAY } from '../scenario.js';
import type { Contribution, Score } from '../winner.js';
import type { ReferenceViews } from './reference.js';

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

/** Every view's rows after the scripted day (`retailDay`), worked out by hand from the script. */
export const expectedDay: ReferenceViews = {
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
