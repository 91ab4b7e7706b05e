import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { defineCatalog, defineEvent, pastVersion } from './catalog.js';
import { type DecodeError, UnknownEventTypeError, ValidationError } from './errors.js';
import { strict } from './issues.js';

const ProductCreated = defineEvent('product/create', {
  version: 3,
  data: { id: t.string, name: t.string, brand: t.string, category: t.string },
  history: [
    pastVersion(1, strict({ id: t.string, title: t.string }), (d) => ({ id: d.id, name: d.title })),
    pastVersion(2, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown', category: 'misc' })),
  ],
});
const Purchased = defineEvent('product/purchase', { data: { id: t.string } });
const catalog = defineCatalog([ProductCreated, Purchased]);
const source = 'test';

describe('catalog.create', () => {
  it('builds a CloudEvents envelope with dataschema and a ULID id', () => {
    const event = catalog.create('product/purchase', 'p1', { id: 'p1' }, { source, correlationid: 'c1' });
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'product/purchase',
      subject: 'p1',
      source,
      dataschema: 'product/purchase@1',
      correlationid: 'c1',
    });
    expect(event.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(event.time)).not.toBeNaN();
  });

  it('names every failing field with expected type and actual value', () => {
    let error: unknown;
    try {
      catalog.create('product/create', 'p1', { id: 7, name: 'Boot', colour: 'red' } as never, { source });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'data.id', expected: 'string', actual: '7' },
        { path: 'data.brand', expected: 'string', actual: 'undefined' },
        { path: 'data.category', expected: 'string', actual: 'undefined' },
        expect.objectContaining({ path: 'data.colour', actual: '"red"' }),
      ]),
    );
    expect((error as ValidationError).code).toBe('VALIDATION_FAILED');
    expect((error as Error).message).toContain('product/create');
  });

  it('truncates long actual values', () => {
    const result = catalog.validate('product/purchase', { id: 'x'.repeat(500) as unknown as string, extra: 'y'.repeat(500) } as never);
    expect(E.isLeft(result)).toBe(true);
    const issue = E.isLeft(result) && result.left instanceof ValidationError ? result.left.issues[0] : undefined;
    expect(issue?.actual.length).toBeLessThanOrEqual(60);
  });

  it('refuses an unknown type with its own error', () => {
    expect(() => catalog.create('product/vanish' as never, 'p1', {} as never, { source })).toThrow(UnknownEventTypeError);
  });

  it('refuses an empty subject in the envelope', () => {
    expect(() => catalog.create('product/purchase', '', { id: 'p1' }, { source })).toThrow(/subject/);
  });
});

describe('catalog.decode', () => {
  const current = catalog.create('product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'B', category: 'shoes' }, { source });

  it('returns the current version unchanged', () => {
    const decoded = catalog.decode(current);
    expect(E.isRight(decoded) && decoded.right).toBe(current);
  });

  it('upcasts through every older version', () => {
    const v1 = { ...current, dataschema: 'product/create@1', data: { id: 'p1', title: 'Boot' } };
    const decoded = catalog.decode(v1);
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'p1', name: 'Boot', brand: 'unknown', category: 'misc' });
    expect(E.isRight(decoded) && decoded.right.dataschema).toBe('product/create@3');
  });

  it('names the position, the type and the failing path', () => {
    const bad = { ...current, data: { id: 'p1', name: 5, brand: 'B', category: 'shoes' } };
    const decoded = catalog.decode(bad, { partition: '2', offset: '17' });
    expect(E.isLeft(decoded)).toBe(true);
    const error = (decoded as E.Left<DecodeError>).left;
    expect(error.code).toBe('DECODE_FAILED');
    expect(error.message).toContain('partition 2, offset 17');
    expect(error.message).toContain('data.name: expected string, got 5');
    expect(error.type).toBe('product/create');
  });

  it('refuses unknown types, versions from the future and non-envelopes', () => {
    const unknown = catalog.decode({ ...current, type: 'x/y', dataschema: 'x/y@1' });
    expect(E.isLeft(unknown) && unknown.left.message).toMatch(/unknown event type "x\/y"/);
    const future = catalog.decode({ ...current, dataschema: 'product/create@9' });
    expect(E.isLeft(future) && future.left.message).toMatch(/version 9, newer/);
    const junk = catalog.decode('hello');
    expect(E.isLeft(junk) && junk.left.message).toMatch(/not a valid envelope/);
    const missing = catalog.decode({ ...current, id: undefined });
    expect(E.isLeft(missing) && missing.left.message).toMatch(/id: expected non-empty string/);
  });
});

describe('defineCatalog', () => {
  it('refuses a type defined twice', () => {
    expect(() => defineCatalog([Purchased, Purchased])).toThrow(/defined twice/);
  });
  it('refuses history at or above the current version', () => {
    expect(() => defineEvent('a/b', { version: 1, data: { id: t.string }, history: [pastVersion(1, t.unknown, (d) => d)] })).toThrow(
      /past version 1/,
    );
  });
});
