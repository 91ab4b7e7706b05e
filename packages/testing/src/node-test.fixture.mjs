// The kit under node's own test runner (no vitest): run by node-test.test.ts with `node --test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineCatalog, defineEvent, ignore, t } from '@riverlog/core';
import { handlerSpec, viewSpec } from '@riverlog/testing/kit';
import { defineView } from '@riverlog/view-builder';

const catalog = defineCatalog([defineEvent('product/purchase', { data: { id: t.string } })]);
const counts = defineView({
  name: 'counts',
  version: 1,
  catalog,
  initial: { count: 0 },
  idWindow: Number(process.env.KIT_ID_WINDOW ?? 100_000),
  apply: { 'product/purchase': (row) => ({ count: row.count + 1 }) },
});
const buy = (id) => ({ type: 'product/purchase', subject: id, data: { id } });

test('a view spec under node --test', async () => {
  await viewSpec(counts)
    .given(buy('p1'), buy('p2'), buy('p1'))
    .thenRows({ p1: { count: 2 }, p2: { count: 1 } });
});

test('a handler spec under node --test', async () => {
  const run = await handlerSpec({ catalog, handlers: { 'product/purchase': ignore } })
    .given(buy('p1'))
    .thenOutcomes(['ignored']);
  assert.equal(run.outcomes.length, 1);
});
