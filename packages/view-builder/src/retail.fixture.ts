// A small Hello Retail catalog and events for this package's tests.
import { createEvent, defineCatalog, defineEvent, type Envelope, t } from '@riverlog/core';

export const ProductCreated = defineEvent('product/create', {
  data: { id: t.string, brand: t.string, name: t.string, description: t.string, category: t.string },
});
export const ProductImaged = defineEvent('product/image', { data: { id: t.string, image: t.string } });
export const ProductPurchased = defineEvent('product/purchase', { data: { id: t.string } });
export const UserLoggedIn = defineEvent('user-info/login', { data: { id: t.string, name: t.string } });

export const catalog = defineCatalog([ProductCreated, ProductImaged, ProductPurchased, UserLoggedIn]);

let sequence = 0;
const id = () => `ev-${process.pid}-${++sequence}`;

export function created(productId: string, name: string, category: string, creator = 'ann'): Envelope {
  return createEvent(
    catalog,
    'product/create',
    productId,
    { id: productId, brand: 'acme', name, description: `${name} by acme`, category },
    { source: `hello-retail/web-client-create-product/${creator}/${creator}`, id: id() },
  );
}

export function imaged(productId: string, image: string, photographer = 'pat'): Envelope {
  return createEvent(
    catalog,
    'product/image',
    productId,
    { id: productId, image },
    { source: `product-photos/photographer/${photographer}`, id: id() },
  );
}

export function purchased(productId: string): Envelope {
  return createEvent(catalog, 'product/purchase', productId, { id: productId }, { source: 'hello-retail/web-client', id: id() });
}

export function login(userId: string, name: string): Envelope {
  return createEvent(catalog, 'user-info/login', userId, { id: userId, name }, { source: 'hello-retail/web-client', id: id() });
}
