import { createEvent, ValidationError, validateEvent } from '@riverlog/core';
import { describe, expect, it } from 'vitest';
import { ImageUrl, retailCatalog } from './catalog.js';

const source = 'test';

describe('the retail catalog', () => {
  it('defines the seven Hello Retail event types', () => {
    expect([...retailCatalog.types].sort()).toEqual([
      'photo/assigned',
      'photo/unassigned',
      'product/create',
      'product/image',
      'product/purchase',
      'user-info/login',
      'user-info/update-phone',
    ]);
  });

  it('refuses unknown fields and missing ones, naming each path', () => {
    const error = (() => {
      try {
        createEvent(retailCatalog, 'product/create', 'p1', { id: 'p1', brand: 'B', name: 'N', category: 'C', price: 3 } as never, {
          source,
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual(['data.description', 'data.price']);
  });

  it('requires every payload field to be a string', () => {
    const result = validateEvent(retailCatalog, 'user-info/update-phone', { id: 'u1', phone: 5550100 as never });
    expect(result._tag === 'Left' && result.left.message).toContain('data.phone: expected string, got 5550100');
  });

  it.each(['https://img.example.com/p1.jpg', 'http://localhost:8080/a.png'])('accepts the image URL %s', (image) => {
    expect(validateEvent(retailCatalog, 'product/image', { id: 'p1', image })._tag).toBe('Right');
  });

  it.each(['p1.jpg', '/images/p1.jpg', 'ftp://example.com/p1.jpg', 'javascript:alert(1)', ''])('refuses %j as an image URL', (image) => {
    const result = validateEvent(retailCatalog, 'product/image', { id: 'p1', image });
    expect(result._tag === 'Left' && result.left.message).toContain(`data.image: expected http(s) URL, got ${JSON.stringify(image)}`);
    expect(ImageUrl.is(image)).toBe(false);
  });

  it('decodes what it created, typed by its type', () => {
    const event = createEvent(retailCatalog, 'photo/assigned', 'p1', { id: 'p1', photographer: 'pia' }, { source, causationid: 'c1' });
    const decoded = retailCatalog.decode(JSON.parse(JSON.stringify(event)));
    expect(decoded._tag === 'Right' && decoded.right.type === 'photo/assigned' && decoded.right.data.photographer).toBe('pia');
  });
});
