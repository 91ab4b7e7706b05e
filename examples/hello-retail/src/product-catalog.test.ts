import { viewSpec } from '@riverlog/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Category, categoriesView, type Product, productsView } from './product-catalog.js';
import { at, created, imaged } from './testing/events.js';
import { expectedDay } from './testing/expected-day.js';
import { dayInLogOrder, expectRanEveryWay, type PlayedDay, playOnMemory } from './testing/harness.js';

// Every scenario is folded in order, with every event delivered twice, and with partitions interleaved
// differently (each subject its own partition): the view must give the same rows every way.
describe('the categories view (viewSpec)', () => {
  const spec = viewSpec(categoriesView);

  it('names who created a category first by event time, not by arrival', async () => {
    // p-late is given (and, in order, folded) first; its partition comes last when interleaved: either way p-early wins.
    await spec
      .given(
        created('p-late', { by: 'ben', time: '09:00', category: 'Shoes' }),
        created('p-early', { by: 'ann', time: '08:00', category: 'Shoes' }),
        created('p-tent', { by: 'ben', time: '08:30', category: 'Outdoor' }),
      )
      .thenRows({
        Shoes: { category: 'Shoes', createdBy: 'ann', createdAt: at('08:00'), firstProduct: 'p-early' },
        Outdoor: { category: 'Outdoor', createdBy: 'ben', createdAt: at('08:30'), firstProduct: 'p-tent' },
      } satisfies Record<string, Category>);
  });

  it('breaks a tie of times by product id', async () => {
    await spec
      .given(
        created('p-b', { by: 'ben', time: '08:00', category: 'Shoes' }),
        created('p-a', { by: 'ann', time: '08:00', category: 'Shoes' }),
      )
      .thenRow('Shoes', { category: 'Shoes', createdBy: 'ann', createdAt: at('08:00'), firstProduct: 'p-a' });
  });

  it('ignores photos: no category without a product/create', async () => {
    await spec.given(imaged('p1')).thenRows({});
  });
});

describe('the products view (viewSpec)', () => {
  const spec = viewSpec(productsView);
  const boot = (image: string | null): Product => ({
    id: 'p-boot',
    brand: 'Trailhead',
    name: 'Hiking Boot',
    description: 'Hiking Boot by Trailhead',
    category: 'Shoes',
    creator: 'ann',
    image,
  });

  it('lists a product with its creator, then its image once a photo arrives; the latest photo wins', async () => {
    const create = created('p-boot', { by: 'ann', category: 'Shoes', name: 'Hiking Boot', brand: 'Trailhead' });
    await spec.given(create).thenRow('p-boot', boot(null));
    await spec
      .given(create, imaged('p-boot', 'pia'), imaged('p-boot', 'raj'))
      .thenRows({ 'p-boot': boot('https://images.example.com/p-boot/raj.jpg') });
  });

  it('keeps an image folded before its product, and fills the rest in later', async () => {
    await spec
      .given(imaged('p-boot', 'pia'), created('p-boot', { by: 'ann', category: 'Shoes', name: 'Hiking Boot', brand: 'Trailhead' }))
      .thenRows({ 'p-boot': boot('https://images.example.com/p-boot/pia.jpg') });
  });
});

describe('the product catalog over the scripted day (the events as the producers and the service wrote them)', () => {
  let day: PlayedDay;
  beforeAll(async () => {
    day = await playOnMemory();
  });

  it('folds the categories worked out by hand, however partitions interleave and however often events come', async () => {
    const events = await dayInLogOrder(day);
    const result = await viewSpec(categoriesView, { shuffles: 8, seed: 2000 }).given(events).thenRows(expectedDay.categories);
    expectRanEveryWay(result, events.length, 8);
  });

  it('folds the products worked out by hand, however partitions interleave and however often events come', async () => {
    const events = await dayInLogOrder(day);
    const result = await viewSpec(productsView, { shuffles: 8, seed: 3000 }).given(events).thenRows(expectedDay.products);
    expectRanEveryWay(result, events.length, 8);
    expect(Object.keys(result.rows)).toHaveLength(5);
  });
});
