import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { dataschemaVersion, decodeRecord, defineCatalog, defineEvent, pastVersion } from './catalog.js';
import { createEvent, validateEvent } from './create-event.js';
import { type DecodeError, UnknownEventTypeError, ValidationError } from './errors.js';
import { optional, strict } from './issues.js';

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

describe('createEvent', () => {
  it('builds a CloudEvents envelope with dataschema and a ULID id', () => {
    const event = createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source, correlationid: 'c1' });
    expect(event).toMatchObject({
      specversion: '1.0',
      type: 'product/purchase',
      subject: 'p1',
      source,
      dataschema: 'urn:riverlog:product/purchase/v1',
      correlationid: 'c1',
    });
    expect(event.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(Date.parse(event.time)).not.toBeNaN();
  });

  it('refuses what is not a catalog, naming the function', () => {
    expect(() => createEvent({} as typeof catalog, 'product/purchase', 'p1', { id: 'p1' }, { source })).toThrow(
      /createEvent: catalog must be a catalog from defineCatalog, got \{\}/,
    );
    expect(() => validateEvent(undefined as unknown as typeof catalog, 'product/purchase', { id: 'p1' })).toThrow(
      /validateEvent: catalog must be a catalog from defineCatalog, got undefined/,
    );
  });

  it('keeps what it knows per catalog: two catalogs of one type write their own dataschema', () => {
    const https = defineCatalog([Purchased], { dataschemaBase: 'https://schemas.shop.example/events/' });
    expect(createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source }).dataschema).toBe('urn:riverlog:product/purchase/v1');
    expect(createEvent(https, 'product/purchase', 'p1', { id: 'p1' }, { source }).dataschema).toBe(
      'https://schemas.shop.example/events/product/purchase/v1',
    );
    expect(createEvent(catalog, 'product/purchase', 'p2', { id: 'p2' }, { source }).dataschema).toBe('urn:riverlog:product/purchase/v1');
  });

  it('names every failing field with expected type and actual value', () => {
    let error: unknown;
    try {
      createEvent(catalog, 'product/create', 'p1', { id: 7, name: 'Boot', colour: 'red' } as never, { source });
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
    const result = validateEvent(catalog, 'product/purchase', {
      id: 'x'.repeat(500) as unknown as string,
      extra: 'y'.repeat(500),
    } as never);
    expect(E.isLeft(result)).toBe(true);
    const issue = E.isLeft(result) && result.left instanceof ValidationError ? result.left.issues[0] : undefined;
    expect(issue?.actual.length).toBeLessThanOrEqual(60);
  });

  it('refuses NaN and Infinity (JSON would store them as null), naming each field path, at every level', () => {
    const Measured = defineEvent('sensor/measure', {
      data: {
        id: t.string,
        value: t.number,
        limit: optional(t.number),
        unit: strict({ factor: t.number, name: t.string }),
        samples: t.array(t.number),
        byName: t.record(t.string, t.number),
        pair: t.tuple([t.string, t.number]),
        extra: t.unknown,
      },
    });
    const measures = defineCatalog([Measured]);
    const valid = {
      id: 's1',
      value: 1.5,
      limit: 3,
      unit: { factor: 1e3, name: 'mV' },
      samples: [1, 2],
      byName: { a: 1 } as Record<string, number>,
      pair: ['x', 2] as [string, number],
      extra: { deep: [0] } as unknown,
    };
    expect(createEvent(measures, 'sensor/measure', 's1', valid, { source }).data).toEqual(valid);
    const cases: [Partial<typeof valid>, string, string][] = [
      [{ value: Number.NaN }, 'data.value', 'NaN'],
      [{ limit: Number.POSITIVE_INFINITY }, 'data.limit', 'Infinity'],
      [{ unit: { factor: Number.NEGATIVE_INFINITY, name: 'mV' } }, 'data.unit.factor', '-Infinity'],
      [{ samples: [1, Number.NaN] }, 'data.samples.1', 'NaN'],
      [{ byName: { a: 1, b: Number.NaN } }, 'data.byName.b', 'NaN'],
      [{ pair: ['x', Number.POSITIVE_INFINITY] }, 'data.pair.1', 'Infinity'],
      [{ extra: { deep: [0, Number.NaN] } }, 'data.extra.deep.1', 'NaN'],
    ];
    for (const [change, path, actual] of cases) {
      let error: unknown;
      try {
        createEvent(measures, 'sensor/measure', 's1', { ...valid, ...change }, { source });
      } catch (e) {
        error = e;
      }
      expect(error, path).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('VALIDATION_FAILED');
      expect((error as ValidationError).issues).toEqual([{ path, expected: expect.stringContaining('finite number'), actual }]);
      expect((error as Error).message).toContain(path);
      expect(E.isLeft(validateEvent(measures, 'sensor/measure', { ...valid, ...change }))).toBe(true);
    }
  });

  it('refuses an unknown type with its own error', () => {
    expect(() => createEvent(catalog, 'product/vanish' as never, 'p1', {} as never, { source })).toThrow(UnknownEventTypeError);
  });

  it('refuses an empty subject in the envelope', () => {
    expect(() => createEvent(catalog, 'product/purchase', '', { id: 'p1' }, { source })).toThrow(/subject/);
  });

  it('refuses bad envelope metadata from a plain-JavaScript caller with a ValidationError naming the field', () => {
    const refused = (call: () => unknown) => {
      try {
        call();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const invalidDate = refused(() => createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source, time: new Date('soon') }));
    expect(invalidDate).toBeInstanceOf(ValidationError);
    expect((invalidDate as ValidationError).issues).toEqual([expect.objectContaining({ path: 'time', actual: '"Invalid Date"' })]);
    const noOptions = refused(() => createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, undefined as never));
    expect(noOptions).toBeInstanceOf(ValidationError);
    expect((noOptions as ValidationError).issues.map((issue) => issue.path)).toEqual(['source']);
  });

  it('refuses a misspelt option (a plain-JavaScript caller, or an object built elsewhere) naming it and the likely one', () => {
    const meta: Record<string, string> = { source, correlationId: 'c-1' };
    expect(() => createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, meta as never)).toThrow(
      /createEvent \("product\/purchase"\): unknown option "correlationId"; did you mean "correlationid"\?/,
    );
  });
});

const current = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'B', category: 'shoes' }, { source });

describe('catalog.decode', () => {
  it('returns the current version unchanged', () => {
    const decoded = catalog.decode(current);
    expect(E.isRight(decoded) && decoded.right).toBe(current);
  });

  it('upcasts through every older version', () => {
    const v1 = { ...current, dataschema: 'urn:riverlog:product/create/v1', data: { id: 'p1', title: 'Boot' } };
    const decoded = catalog.decode(v1);
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'p1', name: 'Boot', brand: 'unknown', category: 'misc' });
    expect(E.isRight(decoded) && decoded.right.dataschema).toBe('urn:riverlog:product/create/v3');
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

  it('tells why it cannot read: not-envelope, unknown-type, newer-version, invalid', () => {
    const left = (result: E.Either<DecodeError, unknown>) => (result as E.Left<DecodeError>).left;
    const unknown = left(catalog.decode({ ...current, type: 'x/y', dataschema: 'urn:riverlog:x/y/v1' }));
    expect(unknown).toMatchObject({ kind: 'unknown-type', code: 'UNKNOWN_EVENT_TYPE', type: 'x/y' });
    expect(unknown.message).toMatch(/unknown event type "x\/y"/);
    const future = left(catalog.decode({ ...current, dataschema: 'urn:riverlog:product/create/v9' }, { partition: '1', offset: '4' }));
    expect(future).toMatchObject({ kind: 'newer-version', code: 'UNREADABLE_VERSION', type: 'product/create' });
    expect(future.message).toMatch(/version 9, newer than this catalog's 3/);
    expect(future.message).toContain('partition 1, offset 4');
    const junk = left(catalog.decode('hello'));
    expect(junk).toMatchObject({ kind: 'not-envelope', code: 'DECODE_FAILED' });
    expect(junk.message).toMatch(/not a valid envelope/);
    const missing = left(catalog.decode({ ...current, id: undefined }));
    expect(missing).toMatchObject({ kind: 'not-envelope', code: 'DECODE_FAILED' });
    expect(missing.message).toMatch(/id: expected non-empty string/);
    const invalid = left(catalog.decode({ ...current, data: { id: 'p1' } }));
    expect(invalid).toMatchObject({ kind: 'invalid', code: 'DECODE_FAILED', type: 'product/create' });
    const notJson = left(catalog.decode({ ...current, datacontenttype: 'text/plain', data: 'Boot' }));
    expect(notJson).toMatchObject({ kind: 'not-envelope' });
    expect(notJson.message).toContain('text/plain');
    const { data: _, ...attributes } = current;
    const binary = left(catalog.decode({ ...attributes, data_base64: 'eyJpZCI6InAxIn0=' }));
    expect(binary).toMatchObject({ kind: 'not-envelope' });
    expect(binary.message).toContain('data_base64');
  });

  it('refuses every malformed envelope attribute as not-envelope, naming it', () => {
    const broken: [Record<string, unknown>, string][] = [
      [{ time: 'yesterday' }, 'time'],
      [{ time: 42 }, 'time'],
      [{ dataschema: '' }, 'dataschema'],
      [{ datacontenttype: '' }, 'datacontenttype'],
      [{ correlationid: 7 }, 'correlationid'],
      [{ subject: '' }, 'subject'],
      [{ source: undefined }, 'source'],
      [{ specversion: '0.3' }, 'specversion'],
    ];
    for (const [change, path] of broken) {
      const decoded = catalog.decode({ ...current, data: { ...(current.data as object), extra: 1 }, ...change });
      expect((decoded as E.Left<DecodeError>).left).toMatchObject({ kind: 'not-envelope', issues: [expect.objectContaining({ path })] });
    }
  });

  it('reports a record that is not an envelope at all (decodeRecord) as not-envelope', () => {
    const decoded = decodeRecord(catalog, {
      position: { partition: '0', offset: '3' },
      event: undefined,
      raw: '{"oops',
      error: 'not JSON',
    });
    expect((decoded as E.Left<DecodeError>).left).toMatchObject({ kind: 'not-envelope', code: 'DECODE_FAILED' });
  });
});

describe('tolerant reader, strict writer', () => {
  const Address = strict({ street: t.string, city: t.string });
  const Order = defineEvent('order/place', { data: { id: t.string, total: t.number, ship: Address, note: optional(t.string) } });
  const orders = defineCatalog([Order]);
  const placed = createEvent(orders, 'order/place', 'o1', { id: 'o1', total: 3, ship: { street: 'Main 1', city: 'Oslo' } }, { source });

  it('drops unknown fields from data, at every level, and keeps the declared ones', () => {
    const newer = { ...placed, data: { ...(placed.data as object), coupon: 'X', ship: { street: 'Main 1', city: 'Oslo', floor: 3 } } };
    const decoded = orders.decode(newer);
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'o1', total: 3, ship: { street: 'Main 1', city: 'Oslo' } });
    expect(newer.data).toHaveProperty('coupon'); // the stored event is not changed
  });

  it('drops unknown fields of older versions before upcasting them', () => {
    const decoded = catalog.decode({
      ...current,
      dataschema: 'urn:riverlog:product/create/v1',
      data: { id: 'p1', title: 'Boot', colour: 'red' },
    });
    expect(E.isRight(decoded) && decoded.right.data).toEqual({ id: 'p1', name: 'Boot', brand: 'unknown', category: 'misc' });
  });

  it('returns the stored event itself when there is nothing to drop (no copy on the hot path)', () => {
    const decoded = orders.decode(placed);
    expect(E.isRight(decoded) && decoded.right).toBe(placed);
  });

  it('still refuses unknown fields when writing', () => {
    expect(() =>
      createEvent(orders, 'order/place', 'o1', { id: 'o1', total: 3, ship: { street: 'Main 1', city: 'Oslo' }, coupon: 'X' } as never, {
        source,
      }),
    ).toThrow(/data\.coupon: expected no such field/);
    expect(
      E.isLeft(validateEvent(orders, 'order/place', { id: 'o1', total: 3, ship: { street: 'M', city: 'O', floor: 1 } } as never)),
    ).toBe(true);
  });
});

describe('dataschema', () => {
  it('is an absolute URI naming type and version, under a base the catalog may set', () => {
    expect(catalog.dataschema('product/create')).toBe('urn:riverlog:product/create/v3');
    expect(catalog.dataschema('product/create', 1)).toBe('urn:riverlog:product/create/v1');
    const https = defineCatalog([Purchased], { dataschemaBase: 'https://schemas.shop.example/events/' });
    expect(createEvent(https, 'product/purchase', 'p1', { id: 'p1' }, { source }).dataschema).toBe(
      'https://schemas.shop.example/events/product/purchase/v1',
    );
    const odd = defineCatalog([defineEvent('Order Placed#1', { data: { id: t.string } })]);
    expect(odd.dataschema('Order Placed#1')).toBe('urn:riverlog:Order%20Placed%231/v1');
  });

  it('refuses a base that is not an absolute URI ending in / or :', () => {
    expect(() => defineCatalog([Purchased], { dataschemaBase: 'schemas/' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => defineCatalog([Purchased], { dataschemaBase: 'https://x.example/v' })).toThrow(/end with "\/" or ":"/);
    for (const bad of ['urn', 'https://x.example/a b/', 'https://x.example/?q=/', 'https://x.example/#/', ':x/', 42]) {
      expect(() => defineCatalog([Purchased], { dataschemaBase: bad as string }), String(bad)).toThrow(/must be an absolute URI/);
    }
    for (const good of ['urn:', 'urn:acme:', 'https://schemas.shop.example/events/', 'tag:shop.example,2026:']) {
      expect(defineCatalog([Purchased], { dataschemaBase: good }).dataschema('product/purchase')).toBe(`${good}product/purchase/v1`);
    }
    expect(() => defineCatalog([Purchased], { dataschemaBse: 'urn:x:' } as never)).toThrow(/did you mean "dataschemaBase"/);
  });

  it('reads the version from any base: …<type>/v<N> after "/" or ":"', () => {
    expect(dataschemaVersion('urn:riverlog:product/create/v2', 'product/create')).toBe(2);
    expect(dataschemaVersion('https://schemas.other.example/x/product/create/v12', 'product/create')).toBe(12);
    expect(dataschemaVersion('urn:acme:schemas:product/create/v1', 'product/create')).toBe(1);
    expect(dataschemaVersion('urn:riverlog:Order%20Placed%231/v4', 'Order Placed#1')).toBe(4);
    for (const foreign of [
      undefined,
      'product/create@1',
      'https://x.example/old-product/create/v2',
      'urn:x:product/create/v0',
      'https://x/product/create/v2?x=1',
    ]) {
      expect(dataschemaVersion(foreign, 'product/create')).toBeUndefined();
    }
  });

  it('takes the current version where dataschema is absent or foreign', () => {
    const { dataschema: _, ...bare } = current;
    for (const event of [bare, { ...current, dataschema: 'https://registry.example/schemas/42' }]) {
      const decoded = catalog.decode(event);
      expect(E.isRight(decoded) && decoded.right.data).toEqual(current.data);
      expect(E.isRight(decoded) && decoded.right.dataschema).toBe('urn:riverlog:product/create/v3');
    }
    const https = catalog.decode({
      ...current,
      dataschema: 'https://schemas.shop.example/events/product/create/v1',
      data: { id: 'p1', title: 'Boot' },
    });
    expect(E.isRight(https) && (https.right.data as { name: string }).name).toBe('Boot');
  });
});

describe('optional CloudEvents attributes on read', () => {
  const { time: _, ...timeless } = current;

  it('takes the time the log stored the record where the event has none', () => {
    const storedAt = Date.UTC(2024, 4, 1, 10, 0, 0);
    const decoded = decodeRecord(catalog, { position: { partition: '0', offset: '1' }, event: timeless, storedAt });
    expect(E.isRight(decoded) && decoded.right.time).toBe('2024-05-01T10:00:00.000Z');
    const direct = catalog.decode(timeless, undefined, storedAt);
    expect(E.isRight(direct) && direct.right.time).toBe('2024-05-01T10:00:00.000Z');
  });

  it('takes the time of decoding where neither has one', () => {
    const before = Date.now();
    const decoded = catalog.decode(timeless);
    expect(E.isRight(decoded) && Date.parse(decoded.right.time)).toBeGreaterThanOrEqual(before - 1);
  });

  it('accepts JSON content types with parameters', () => {
    for (const datacontenttype of [
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'text/json',
      'application/vnd.shop+json',
    ]) {
      const decoded = catalog.decode({ ...current, datacontenttype });
      expect(E.isRight(decoded) && decoded.right.data).toEqual(current.data);
    }
  });

  it('keeps CloudEvents extensions it does not know', () => {
    const decoded = catalog.decode({ ...current, partitionkey: 'p1' });
    expect(E.isRight(decoded) && (decoded.right as unknown as { partitionkey: string }).partitionkey).toBe('p1');
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
  it('names the type and the version it refuses', () => {
    expect(() => defineEvent('a/b', { version: 0, data: { id: t.string } })).toThrow(
      'Event "a/b": version 0 must be a whole number from 1.',
    );
    expect(() => defineEvent('a/b', { version: 3, data: { id: t.string }, history: [pastVersion(1.5, t.unknown, (d) => d)] })).toThrow(
      'Event "a/b": past version 1.5 must be a whole number from 1 below the current version 3.',
    );
  });
});
