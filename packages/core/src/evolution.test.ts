// The three evolution rules of docs/evolution.md, at the catalog level: a producer on one catalog,
// readers on the one before and the one after, in both deploy orders.
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { type Catalog, defineCatalog, defineEvent, pastVersion } from './catalog.js';
import { createEvent } from './create-event.js';
import type { DecodeError } from './errors.js';
import { optional, strict } from './issues.js';

const source = 'shop/web';

function read(catalog: Catalog, stored: unknown) {
  return catalog.decode(JSON.parse(JSON.stringify(stored)));
}
function failure(result: E.Either<DecodeError, unknown>): DecodeError {
  if (E.isRight(result)) throw new Error('expected the decode to fail');
  return result.left;
}

describe('rule 1: add an optional field (same version)', () => {
  const before = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string } })]);
  const after = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string, color: optional(t.string) } })]);

  it('producer first: readers still on the old catalog drop the new field and read on', () => {
    const written = createEvent(after, 'product/create', 'p1', { id: 'p1', name: 'Boot', color: 'red' }, { source });
    expect(written.dataschema).toBe('urn:riverlog:product/create/v1');
    const decoded = read(before, written);
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'p1', name: 'Boot' });
  });

  it('readers first: the new catalog reads old events, the field absent', () => {
    const written = createEvent(before, 'product/create', 'p1', { id: 'p1', name: 'Boot' }, { source });
    const decoded = read(after, written);
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'p1', name: 'Boot' });
    // and producers on the new catalog may leave it out
    expect(createEvent(after, 'product/create', 'p2', { id: 'p2', name: 'Hat' }, { source }).data).toEqual({ id: 'p2', name: 'Hat' });
  });

  it('a producer still on the old catalog cannot write the new field (strict writer)', () => {
    expect(() => createEvent(before, 'product/create', 'p1', { id: 'p1', name: 'Boot', color: 'red' } as never, { source })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });
});

describe('rule 2: add a version with an upcaster', () => {
  const v1 = defineCatalog([defineEvent('product/create', { data: { id: t.string, title: t.string } })]);
  const v2 = defineCatalog([
    defineEvent('product/create', {
      version: 2,
      data: { id: t.string, name: t.string, brand: t.string },
      history: [pastVersion(1, strict({ id: t.string, title: t.string }), (d) => ({ id: d.id, name: d.title, brand: 'unknown' }))],
    }),
  ]);

  it('readers first: the new catalog upcasts old events to the current shape', () => {
    const written = createEvent(v1, 'product/create', 'p1', { id: 'p1', title: 'Boot' }, { source });
    const decoded = read(v2, written);
    expect(E.isRight(decoded) && decoded.right).toMatchObject({
      dataschema: 'urn:riverlog:product/create/v2',
      data: { id: 'p1', name: 'Boot', brand: 'unknown' },
    });
  });

  it('producer first: a reader on the old catalog is told it is a newer version (stop, then resume once deployed)', () => {
    const written = createEvent(v2, 'product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'Acme' }, { source });
    const refused = failure(read(v1, written));
    expect(refused).toMatchObject({ kind: 'newer-version', code: 'UNREADABLE_VERSION', type: 'product/create' });
    expect(refused.message).toContain('deploy a catalog that defines version 2');
    // the same stored event, once the reader runs the new catalog
    const resumed = read(v2, written);
    expect(E.isRight(resumed) && resumed.right.data).toEqual({ id: 'p1', name: 'Boot', brand: 'Acme' });
  });
});

describe('rule 3: rename a type', () => {
  const before = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string } })]);
  const after = defineCatalog([
    defineEvent('product/created', { data: { id: t.string, name: t.string }, renamedFrom: ['product/create'] }),
  ]);

  it('readers first: events stored under the old name are read as the new type', () => {
    const written = createEvent(before, 'product/create', 'p1', { id: 'p1', name: 'Boot' }, { source });
    const decoded = read(after, written);
    expect(E.isRight(decoded) && decoded.right).toMatchObject({
      type: 'product/created',
      dataschema: 'urn:riverlog:product/created/v1',
      data: { id: 'p1', name: 'Boot' },
    });
    expect(after.storedTypes(['product/created'])).toEqual(['product/created', 'product/create']);
  });

  it('producer first: a reader on the old catalog sees an unknown type (so deploy readers first)', () => {
    const written = createEvent(after, 'product/created', 'p1', { id: 'p1', name: 'Boot' }, { source });
    expect(failure(read(before, written))).toMatchObject({ kind: 'unknown-type', code: 'UNKNOWN_EVENT_TYPE', type: 'product/created' });
  });

  it('the old name is no longer written, and may not name another type', () => {
    expect(() => createEvent(after, 'product/create' as never, 'p1', { id: 'p1', name: 'Boot' } as never, { source })).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_EVENT_TYPE' }),
    );
    expect(() =>
      defineCatalog([
        defineEvent('product/created', { data: { id: t.string }, renamedFrom: ['product/create'] }),
        defineEvent('product/create', { data: { id: t.string } }),
      ]),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CATALOG' }));
  });
});
