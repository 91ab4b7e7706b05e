import * as t from 'io-ts';
import { EventTooLargeError, ValidationError, type ValidationIssue } from './errors.js';
import { preview } from './issues.js';
import type { Position } from './position.js';

/**
 * A CloudEvents 1.0 event in structured JSON mode: the unit every riverlog
 * log stores, as producers write it and as the catalog's decode returns it
 * (always with `time` and `dataschema`). `subject` is the partition key:
 * per-subject order is kept.
 */
export interface Envelope<Type extends string = string, Data = unknown> {
  readonly specversion: '1.0';
  /** Unique id made by the producer (a ULID): the idempotency key. */
  readonly id: string;
  readonly type: Type;
  /** Who emitted it, e.g. `hello-retail/web-client`. */
  readonly source: string;
  /** The entity it is about; the partition key. */
  readonly subject: string;
  /** When it happened, ISO 8601. */
  readonly time: string;
  /**
   * The payload's schema as an absolute URI naming type and version,
   * `<base><type>/v<version>` (default base `urn:riverlog:`): see `catalog.dataschema`.
   */
  readonly dataschema: string;
  /** A JSON media type, parameters allowed (`application/json; charset=utf-8`); absent means JSON. */
  readonly datacontenttype?: string;
  readonly data: Data;
  readonly correlationid?: string;
  /** The id of the event this one follows from. */
  readonly causationid?: string;
  readonly traceparent?: string;
}

/**
 * An envelope as a reader may find it in a log, before the catalog decodes
 * it: any valid CloudEvent with riverlog's required attributes (`id`,
 * `type`, `source`, `subject`); `time` and `dataschema` are optional, as in
 * CloudEvents.
 */
export type StoredEvent = Omit<Envelope, 'time' | 'dataschema'> & { readonly time?: string; readonly dataschema?: string };

/** An event together with where it sits in the log. */
export interface RecordedEvent<E = Envelope> {
  readonly event: E;
  readonly position: Position;
}

/** Optional metadata a producer may set on an event. */
export interface EventMeta {
  readonly id?: string;
  /** Overrides the producer's `source` for this event, e.g. to name the acting user. */
  readonly source?: string;
  readonly time?: string | Date;
  readonly correlationid?: string;
  readonly causationid?: string;
  readonly traceparent?: string;
}

const NonEmptyString = new t.Type<string, string, unknown>(
  'non-empty string',
  (u): u is string => typeof u === 'string' && u.length > 0,
  (u, c) => (typeof u === 'string' && u.length > 0 ? t.success(u) : t.failure(u, c)),
  t.identity,
);

const IsoTime = new t.Type<string, string, unknown>(
  'ISO 8601 time',
  (u): u is string => typeof u === 'string' && !Number.isNaN(Date.parse(u)),
  (u, c) => (typeof u === 'string' && !Number.isNaN(Date.parse(u)) ? t.success(u) : t.failure(u, c)),
  t.identity,
);

/**
 * The io-ts codec of a stored envelope's attributes (`StoredEvent`): the
 * CloudEvents required ones plus `subject`; `time`, `dataschema` and the
 * rest optional. `data` is checked by the catalog, the content type's
 * media type too.
 */
export const EnvelopeCodec = t.intersection(
  [
    t.type({
      specversion: t.literal('1.0'),
      id: NonEmptyString,
      type: NonEmptyString,
      source: NonEmptyString,
      subject: NonEmptyString,
      data: t.unknown,
    }),
    t.partial({
      time: IsoTime,
      dataschema: NonEmptyString,
      datacontenttype: NonEmptyString,
      correlationid: t.string,
      causationid: t.string,
      traceparent: t.string,
    }),
  ],
  'Envelope',
);

// The text is kept on the envelope itself under a non-enumerable symbol: JSON.stringify
// and object spreads ignore it (a changed copy never inherits a stale text), and unlike a
// WeakMap entry it costs the garbage collector nothing extra.
const TEXT: unique symbol = Symbol('riverlog.envelopeText');
type WithText = Envelope & { [TEXT]?: string };

/**
 * The envelope as the JSON text logs store. Memoized on the object, so the
 * producer's size check and the log's write serialize each event once.
 *
 * @example
 * const text = serializeEnvelope(event);
 */
export function serializeEnvelope(event: Envelope): string {
  const cached = (event as WithText)[TEXT];
  if (cached !== undefined) return cached;
  const text = JSON.stringify(event);
  if (Object.isExtensible(event)) Object.defineProperty(event, TEXT, { value: text });
  return text;
}

/**
 * Throws `EventTooLargeError` when the serialized envelope is over
 * `maxBytes`. `text` is its JSON (from `serializeEnvelope` or `envelopeText`).
 * Bytes are counted only when the text could be too large: UTF-8 takes at
 * most 3 bytes per UTF-16 unit. The one size check of every log and the producer.
 *
 * @example
 * const text = envelopeText(event);
 * assertEnvelopeFits(event, text, log.maxEventBytes);
 */
export function assertEnvelopeFits(event: Envelope, text: string, maxBytes: number): void {
  if (text.length * 3 <= maxBytes) return;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw new EventTooLargeError(event.type, event.id, size, maxBytes);
}

const REQUIRED = ['id', 'subject', 'type'] as const;

/**
 * The `ValidationError` for the event at `index` of an append when it is not
 * something a log can store: an object with a non-empty string `id`,
 * `subject` and `type`; `undefined` when it is. Every log checks each event
 * of a call with it (and `assertEnvelopeFits`) before writing any, so a bad
 * event refuses the whole call.
 *
 * @example
 * for (let i = 0; i < events.length; i++) {
 *   const invalid = invalidEnvelope(events[i], i);
 *   if (invalid) throw invalid;
 * }
 */
export function invalidEnvelope(event: unknown, index: number): ValidationError | undefined {
  const fields = event as Partial<Record<(typeof REQUIRED)[number], unknown>> | null | undefined;
  if (
    typeof fields?.id === 'string' &&
    fields.id !== '' &&
    typeof fields.subject === 'string' &&
    fields.subject !== '' &&
    typeof fields.type === 'string' &&
    fields.type !== ''
  ) {
    return undefined;
  }
  const isObject = typeof event === 'object' && event !== null && !Array.isArray(event);
  const issues: ValidationIssue[] = isObject
    ? REQUIRED.filter((field) => typeof fields?.[field] !== 'string' || fields[field] === '').map((field) => ({
        path: field,
        expected: 'non-empty string',
        actual: preview(fields?.[field]),
      }))
    : [{ path: '', expected: 'an envelope (object)', actual: preview(event) }];
  const type = typeof fields?.type === 'string' && fields.type !== '' ? fields.type : '(unknown)';
  return new ValidationError(type, issues, ` at index ${index} of the append`);
}

/** Size in bytes of the serialized envelope (UTF-8). */
export function envelopeBytes(event: Envelope): number {
  return Buffer.byteLength(serializeEnvelope(event), 'utf8');
}

/**
 * The envelope as JSON text for a log that writes it once: the memoized text
 * when `serializeEnvelope` already made it (the producer's size check), else
 * made now without being kept, so a large batch of envelopes built elsewhere
 * does not hold every text alive as long as its event.
 *
 * @example
 * const text = envelopeText(event); // same text as serializeEnvelope(event)
 */
export function envelopeText(event: Envelope): string {
  return (event as WithText)[TEXT] ?? JSON.stringify(event);
}
