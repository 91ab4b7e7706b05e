import type { StoredEvent } from '@riverlog/core';
import { viewSpec } from '@riverlog/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { merchantSource } from './domain.js';
import { decodeAll, playOnMemory, recordsByPartition } from './testing/harness.js';
import { referenceViews } from './testing/reference.js';
import { type Contribution, contributionKey, type Score, scoreKey, winnerView } from './winner.js';

const at = (hhmm: string) => `2026-03-14T${hhmm}:00.000Z`;
const created = (id: string, by: string, time: string) => ({
  type: 'product/create' as const,
  subject: id,
  data: { id, brand: 'B', name: `Product ${id}`, description: '-', category: 'C' },
  source: merchantSource(by, by),
  time: at(time),
});
const assigned = (id: string, photographer: string) => ({ type: 'photo/assigned' as const, subject: id, data: { id, photographer } });
const unassigned = (id: string, photographer: string) => ({ type: 'photo/unassigned' as const, subject: id, data: { id, photographer } });
const imaged = (id: string) => ({
  type: 'product/image' as const,
  subject: id,
  data: { id, image: `https://images.example.com/${id}.jpg` },
});
const bought = (id: string) => ({ type: 'product/purchase' as const, subject: id, data: { id } });
const login = (id: string, name: string) => ({ type: 'user-info/login' as const, subject: id, data: { id, name } });

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
        created('p1', 'ann', '08:00'),
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
      .given(created('p1', 'sol', '08:00'), assigned('p1', 'sol'), imaged('p1'), bought('p1'))
      .thenRow(scoreKey('sol'), score('sol', null, 1, 1));
  });

  it('credits no photographer whose assignment was released before the photo', async () => {
    await spec
      .given(created('p1', 'ann', '08:00'), assigned('p1', 'raj'), unassigned('p1', 'raj'), imaged('p1'), bought('p1'))
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

  describe('over the scripted day (the events as the services wrote them, in their partitions)', () => {
    let day: { event: StoredEvent; partition: string }[];
    beforeAll(async () => {
      const played = await playOnMemory(4);
      day = [...(await recordsByPartition(played.log)).values()]
        .flat()
        .map((record) => ({ event: record.event as StoredEvent, partition: record.position.partition }));
    });

    it('agrees with the reference model however partitions interleave, and however often events come', async () => {
      const reference = referenceViews(decodeAll(day.map(({ event, partition }) => ({ event, position: { partition, offset: '0' } }))));
      const result = await viewSpec(winnerView, { shuffles: 8, seed: 1000 })
        .given(day)
        .thenRows(reference.contributions as Record<string, Contribution | Score>);
      expect(result.runs.length).toBeGreaterThanOrEqual(10);
      expect(result.rows[scoreKey('ann')]).toEqual(score('ann', 'Ann Archer', 6, 0));
      expect(result.rows[scoreKey('pia')]).toEqual(score('pia', 'Pia Park', 0, 5));
    });
  });
});
