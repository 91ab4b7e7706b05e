import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { describe, expect, it } from 'vitest';
import { defineCatalog, defineEvent } from './catalog.js';
import { validateEvent } from './create-event.js';
import { ValidationError } from './errors.js';
import { preview } from './issues.js';

describe('preview', () => {
  it('shows numbers JSON cannot hold as what they are, not null', () => {
    expect(preview(Number.NaN)).toBe('NaN');
    expect(preview(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(preview({ n: Number.NaN })).toBe('{"n":"NaN"}');
    expect(preview(null)).toBe('null');
    expect(preview(undefined)).toBe('undefined');
    expect(preview(10n)).toBe('10');
    expect(preview(function handler() {})).toBe('function handler');
    expect(preview('x'.repeat(100))).toHaveLength(60);
  });

  it('names NaN in a validation message', () => {
    const catalog = defineCatalog([defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } })]);
    const result = validateEvent(catalog, 'product/purchase', { id: 'p1', quantity: Number.NaN });
    // io-ts's t.number accepts NaN; the catalog refuses it (JSON would store null), naming it as NaN
    expect(E.isLeft(result) && result.left.message).toContain('data.quantity: expected a finite number');
    expect(E.isLeft(result) && result.left.message).toContain('got NaN');
    // and so does a refinement of the user's that refuses it
    const Finite = t.refinement(t.number, Number.isFinite, 'finite number');
    const strictCatalog = defineCatalog([defineEvent('product/purchase', { data: { id: t.string, quantity: Finite } })]);
    const refused = validateEvent(strictCatalog, 'product/purchase', { id: 'p1', quantity: Number.NaN });
    expect(E.isLeft(refused) && refused.left).toBeInstanceOf(ValidationError);
    expect(E.isLeft(refused) && refused.left.message).toContain('data.quantity: expected finite number, got NaN');
  });
});
