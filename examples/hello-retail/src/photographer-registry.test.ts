import { viewSpec } from '@riverlog/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Photographer,
  type ProductAssignment,
  photographerKey,
  photographerRegistryView,
  productKey,
} from './photographer-registry.js';
import { assigned, at, created, imaged, phone, unassigned } from './testing/events.js';
import { expectedDay } from './testing/expected-day.js';
import { dayInLogOrder, expectRanEveryWay, type PlayedDay, playOnMemory } from './testing/harness.js';

const photographer = (id: string, fields: Partial<Photographer> = {}): Photographer => ({
  kind: 'photographer',
  id,
  phone: null,
  registrations: 0,
  completed: 0,
  assignments: [],
  ...fields,
});
const product = (id: string, fields: Partial<ProductAssignment> = {}): ProductAssignment => ({
  kind: 'product',
  id,
  createdAt: at('08:00'),
  photographer: null,
  photographed: false,
  released: [],
  ...fields,
});

// Every scenario is folded in order, with every event delivered twice, and with partitions interleaved
// differently (each subject its own partition: a photographer's row is changed from the partitions of
// the products they shoot): the view must give the same rows every way.
describe('the photographer registry (viewSpec)', () => {
  const spec = viewSpec(photographerRegistryView);

  it('registers a photographer with the phone normalised, counting every registration', async () => {
    await spec
      .given(phone('sol', '1 555 010 0103'), phone('sol', '555-010-0199'))
      .thenRows({ [photographerKey('sol')]: photographer('sol', { phone: '+15550100199', registrations: 2 }) });
  });

  it('records an assignment on the product and on the photographer', async () => {
    await spec.given(phone('pia', '(555) 010-0101'), created('p-boot'), assigned('p-boot', 'pia')).thenRows({
      [photographerKey('pia')]: photographer('pia', { phone: '+15550100101', registrations: 1, assignments: ['p-boot'] }),
      [productKey('p-boot')]: product('p-boot', { photographer: 'pia' }),
    });
  });

  it('completes the assignment with the first photo: later photos and assignments of the product change nothing', async () => {
    await spec
      .given(
        phone('pia', '555 010 0101'),
        created('p-boot'),
        assigned('p-boot', 'pia'),
        imaged('p-boot', 'pia'),
        imaged('p-boot', 'raj'),
        assigned('p-boot', 'raj'),
      )
      .thenRows({
        [photographerKey('pia')]: photographer('pia', { phone: '+15550100101', registrations: 1, completed: 1 }),
        [productKey('p-boot')]: product('p-boot', { photographer: 'pia', photographed: true }),
      });
  });

  it('releases a timed-out assignment: the product waits again and is not given to that photographer', async () => {
    await spec.given(phone('sol', '555 010 0103'), created('p-tent'), assigned('p-tent', 'sol'), unassigned('p-tent', 'sol')).thenRows({
      [photographerKey('sol')]: photographer('sol', { phone: '+15550100103', registrations: 1 }),
      [productKey('p-tent')]: product('p-tent', { released: ['sol'] }),
    });
  });

  it('moves a product reassigned to another photographer off the first one', async () => {
    await spec.given(created('p-tent'), assigned('p-tent', 'sol'), assigned('p-tent', 'raj')).thenRows({
      [photographerKey('sol')]: photographer('sol'),
      [photographerKey('raj')]: photographer('raj', { assignments: ['p-tent'] }),
      [productKey('p-tent')]: product('p-tent', { photographer: 'raj' }),
    });
  });

  it('counts no completion for a photo of a product nobody is assigned', async () => {
    await spec.given(created('p-boot'), imaged('p-boot')).thenRows({ [productKey('p-boot')]: product('p-boot', { photographed: true }) });
  });
});

describe('the photographer registry over the scripted day (the events as the producers and the service wrote them)', () => {
  let day: PlayedDay;
  beforeAll(async () => {
    day = await playOnMemory();
  });

  it('folds the rows worked out by hand, however partitions interleave and however often events come', async () => {
    const events = await dayInLogOrder(day);
    const result = await viewSpec(photographerRegistryView, { shuffles: 8, seed: 4000 }).given(events).thenRows(expectedDay.registry);
    expectRanEveryWay(result, events.length, 8);
    expect(result.rows[photographerKey('raj')]).toMatchObject({ completed: 1, assignments: ['p-tent'] });
  });
});
