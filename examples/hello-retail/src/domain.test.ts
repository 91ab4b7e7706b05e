import { describe, expect, it } from 'vitest';
import { creatorOf, derivedEventId, merchantSource, normalisePhone, photographerSource } from './domain.js';

describe('normalisePhone', () => {
  it.each([
    ['(555) 010-0101', '+15550100101'],
    ['555.010.0102', '+15550100102'],
    ['1 555 010 0103', '+15550100103'],
    ['+1 (555) 010-0199', '+15550100199'],
    ['+44 20 7946 0958', '+442079460958'],
  ])('%s → %s', (phone, normalised) => {
    expect(normalisePhone(phone)).toBe(normalised);
  });
});

describe('sources', () => {
  it('name who acted, and the creator is read back from a merchant source', () => {
    expect(merchantSource('ann', 'Ann Archer')).toBe('hello-retail/web-client-create-product/ann/Ann Archer');
    expect(creatorOf(merchantSource('ann', 'Ann Archer'))).toBe('ann');
    expect(photographerSource('+15550100101', 'Pia')).toBe('product-photos/photographer/+15550100101/Pia');
  });

  it('an unrecognised source is its own creator, so nothing is silently attributed to nobody', () => {
    expect(creatorOf('some-batch-import')).toBe('some-batch-import');
  });
});

describe('derivedEventId', () => {
  const cause = '01JD3Q6Z8X4V2N5M7K9P1R3T5W';

  it('is the same for the same cause and purpose, different otherwise', () => {
    expect(derivedEventId(cause, 'photo/assigned:p1')).toBe(derivedEventId(cause, 'photo/assigned:p1'));
    expect(derivedEventId(cause, 'photo/assigned:p2')).not.toBe(derivedEventId(cause, 'photo/assigned:p1'));
    expect(derivedEventId('01JD3Q6Z8X4V2N5M7K9P1R3T5X', 'photo/assigned:p1')).not.toBe(derivedEventId(cause, 'photo/assigned:p1'));
  });

  it('is a ULID keeping the time of its cause', () => {
    const id = derivedEventId(cause, 'photo/assigned:p1');
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(id.slice(0, 10)).toBe(cause.slice(0, 10));
  });
});
