import { viewSpec } from '@riverlog/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { assigned, bought, created, imaged, login, unassigned } from './testing/events.js';
import { expectedDay } from './testing/expected-day.js';
import { dayInLogOrder, decodeAll, expectRanEveryWay, playOnMemory, recordsByPartition } from './testing/harness.js';
import { referenceViews } from './testing/reference.js';
import { type Contribution, contributionKey, type Score, scoreKey, winnerView } from './winner.js';

const score = (id: string, name: string | null, creatorPoints: number, photographerPoints: number): Score => ({
  kind: 'person',
  id,
  name,
  creatorPoints,
  photographerPoints,
});

// Every scenario is folded in order, with every event delivered twice, and with partitions interleaved
// differently (each subject its own partition): the view must give the same rows every way.
describe('the winner view (viewSpec)', () => {
  const spec = viewSpec(winnerView);

  it('gives the creator a point per purchase, and the photographer one per purchase after the photo', async () => {
    await spec
      .given(
        created('p1', { by: 'ann' }),
        bought('p1'),
        assigned('p1', 'pia'),
        imaged('p1'),
        bought('p1'),
        bought('p1'),
        login('ann', 'Ann Archer'),
        login('pia', 'Pia Park'),
      )
      .thenRows({
        [contributionKey('p1')]: {
          kind: 'product',
          id: 'p1',
          creator: 'ann',
          assigned: null,
          photographed: true,
          photographer: 'pia',
          purchases: 3,
          creatorPoints: 3,
          photographerPoints: 2,
        } satisfies Contribution,
        [scoreKey('ann')]: score('ann', 'Ann Archer', 3, 0),
        [scoreKey('pia')]: score('pia', 'Pia Park', 0, 2),
      });
  });

  it('credits one person who is both creator and photographer with both scores', async () => {
    await spec
      .given(created('p1', { by: 'sol' }), assigned('p1', 'sol'), imaged('p1'), bought('p1'))
      .thenRow(scoreKey('sol'), score('sol', null, 1, 1));
  });

  it('credits no photographer whose assignment was released before the photo', async () => {
    await spec
      .given(created('p1', { by: 'ann' }), assigned('p1', 'raj'), unassigned('p1', 'raj'), imaged('p1'), bought('p1'))
      .thenRows((rows) => {
        expect(rows[contributionKey('p1')]).toMatchObject({
          photographed: true,
          photographer: null,
          photographerPoints: 0,
          creatorPoints: 1,
        });
        expect(rows[scoreKey('raj')]).toBeUndefined();
      });
  });

  describe('over the scripted day (the events as the producers and the service wrote them)', () => {
    let day: Awaited<ReturnType<typeof playOnMemory>>;
    beforeAll(async () => {
      day = await playOnMemory();
    });

    it('folds the rows worked out by hand, as the reference model does, however partitions interleave and however often events come', async () => {
      const events = await dayInLogOrder(day);
      const reference = referenceViews(decodeAll([...(await recordsByPartition(day.log)).values()].flat()));
      expect(reference.contributions).toEqual(expectedDay.contributions);
      const result = await viewSpec(winnerView, { shuffles: 8, seed: 1000 }).given(events).thenRows(expectedDay.contributions);
      expectRanEveryWay(result, events.length, 8);
      expect(result.rows[scoreKey('ann')]).toEqual(score('ann', 'Ann Archer', 6, 0));
      expect(result.rows[scoreKey('pia')]).toEqual(score('pia', 'Pia Park', 0, 5));
    });
  });
});
