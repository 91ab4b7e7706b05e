import { defineCatalog, defineEvent, type EventOf, t } from '@riverlog/core';

/**
 * An absolute http(s) URL, kept as a plain string so callers write
 * `image: 'https://…'` without a cast. A brand would make every producer call
 * site decode first; a refinement gives the same guarantee at the boundary
 * (the producer validates before appending) with a precise error message.
 */
export const ImageUrl = new t.Type<string, string, unknown>(
  'http(s) URL',
  (u): u is string => typeof u === 'string' && isHttpUrl(u),
  (u, context) => (typeof u === 'string' && isHttpUrl(u) ? t.success(u) : t.failure(u, context)),
  t.identity,
);

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol, hostname } = new URL(text);
  return (protocol === 'https:' || protocol === 'http:') && hostname.length > 0;
}

/** A merchant creates a product. Subject: the product id. */
export const ProductCreated = defineEvent('product/create', {
  data: { id: t.string, brand: t.string, name: t.string, description: t.string, category: t.string },
});

/** A photographer's photo of a product was received. Subject: the product id. */
export const ProductImaged = defineEvent('product/image', {
  data: { id: t.string, image: ImageUrl },
});

/** A customer bought a product. Subject: the product id. */
export const ProductPurchased = defineEvent('product/purchase', {
  data: { id: t.string },
});

/** A user logged in. Subject: the user id. */
export const UserLoggedIn = defineEvent('user-info/login', {
  data: { id: t.string, name: t.string },
});

/** A photographer registered (or changed) a phone number. Subject: the user id. */
export const PhoneUpdated = defineEvent('user-info/update-phone', {
  data: { id: t.string, phone: t.string },
});

/** A photographer (user id) was assigned to shoot a product. Subject: the product id. */
export const PhotoAssigned = defineEvent('photo/assigned', {
  data: { id: t.string, photographer: t.string },
});

/** An assignment timed out and was released. Subject: the product id. */
export const PhotoUnassigned = defineEvent('photo/unassigned', {
  data: { id: t.string, photographer: t.string },
});

/**
 * The one catalog of the retail stream: every service validates what it
 * writes and decodes what it reads against it.
 *
 * @example
 * const event = createEvent(retailCatalog, 'product/purchase', 'p1', { id: 'p1' }, { source: 'hello-retail/web-client' });
 */
export const retailCatalog = defineCatalog([
  ProductCreated,
  ProductImaged,
  ProductPurchased,
  UserLoggedIn,
  PhoneUpdated,
  PhotoAssigned,
  PhotoUnassigned,
]);

/** Any decoded event of the retail stream. */
export type RetailEvent = EventOf<typeof retailCatalog>;
/** One decoded event type of the retail stream, e.g. `RetailEventOf<'product/create'>`. */
export type RetailEventOf<T extends RetailEvent['type']> = Extract<RetailEvent, { type: T }>;
