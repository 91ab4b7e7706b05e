import { createHash } from 'node:crypto';

/**
 * The `source` a merchant's web client writes: names who acted.
 *
 * @example
 * merchantSource('u-ann', 'Ann'); // 'hello-retail/web-client-create-product/u-ann/Ann'
 */
export function merchantSource(userId: string, name: string): string {
  return `hello-retail/web-client-create-product/${userId}/${name}`;
}

/**
 * The user id of whoever created a product, read from the `source` of its
 * `product/create` (the payload does not carry it, as in the original).
 *
 * @example
 * creatorOf('hello-retail/web-client-create-product/u-ann/Ann'); // 'u-ann'
 */
export function creatorOf(source: string): string {
  const match = /^hello-retail\/web-client-create-product\/([^/]+)\//.exec(source);
  return match?.[1] ?? source;
}

/**
 * The `source` of a photographer's delivery.
 *
 * @example
 * photographerSource('+15550100', 'Pia'); // 'product-photos/photographer/+15550100/Pia'
 */
export function photographerSource(phone: string, name: string): string {
  return `product-photos/photographer/${phone}/${name}`;
}

/**
 * A phone number as `+1` and ten digits when it is a North American number
 * written any common way; anything else keeps its digits behind a `+`.
 *
 * @example
 * normalisePhone('(555) 010-0199'); // '+15550100199'
 */
export function normalisePhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length === 10) return `+1${digits}`;
  if (digits.length === 11 && digits.startsWith('1')) return `+${digits}`;
  return `+${digits}`;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID-shaped event id derived from the id of the event that caused it and
 * what was done about it: the same cause always gives the same id, so an
 * emission repeated after a redelivery is absorbed by the log's id dedupe.
 * Keeps the cause's time part, so ids still sort by time.
 *
 * @example
 * derivedEventId(create.id, 'photo/assigned') === derivedEventId(create.id, 'photo/assigned'); // true
 */
export function derivedEventId(causationId: string, purpose: string): string {
  const digest = createHash('sha256').update(`${causationId}\u0000${purpose}`).digest();
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[(digest[i] as number) & 31];
  const time = /^[0-9A-HJKMNP-TV-Z]{10}/.test(causationId) ? causationId.slice(0, 10) : '0000000000';
  return time + random;
}
