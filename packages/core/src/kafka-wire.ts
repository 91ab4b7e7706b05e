import { isJsonContentType } from './catalog.js';
import { type Envelope, envelopeText } from './envelope.js';
import type { LogRecord } from './ports.js';
import { decodeUtf8 } from './utf8.js';

/** A header value as Kafka clients hand it over: bytes (kafkajs `Buffer`), text, or several of either. */
export type KafkaHeaderValue = Uint8Array | string | readonly (Uint8Array | string)[] | undefined;

/**
 * A Kafka record as clients hand it over: kafkajs's `Buffer`s, or text.
 * Only what is needed to rebuild the envelope; topic, partition and offset
 * stay with the caller.
 */
export interface KafkaWireRecord {
  readonly key?: Uint8Array | string | null;
  readonly value: Uint8Array | string | null;
  readonly headers?: Readonly<Record<string, KafkaHeaderValue>>;
  /** The record's timestamp (epoch ms, as kafkajs gives it: text), kept as `storedAt`. */
  readonly timestamp?: string | number;
}

/**
 * What a record holds, as a `LogRecord` carries it: the envelope, or the raw
 * text and why it is not one; `storedAt` when the record had a timestamp.
 */
export type StoredEnvelope = Pick<LogRecord, 'event' | 'raw' | 'error' | 'storedAt'>;

/** The bytes as UTF-8 text, refusing invalid UTF-8 (`InvalidUtf8Error`); text is taken as it is. */
function text(value: Uint8Array | string, what: string): string {
  return typeof value === 'string' ? value : decodeUtf8(value, what);
}

/** The bytes as text, invalid sequences replaced: only for a dead letter's `raw`. */
function lenientText(value: Uint8Array | string | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

function storedAtOf(timestamp: string | number | undefined): number | undefined {
  if (timestamp === undefined) return undefined;
  // kafkajs hands every timestamp over as a string of digits: read them here (Number() of a fresh string costs ~100 ns a record).
  if (typeof timestamp === 'string' && timestamp.length > 0 && timestamp.length <= 15) {
    let ms = 0;
    for (let i = 0; i < timestamp.length; i++) {
      const digit = timestamp.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return storedAtOfText(timestamp);
      ms = ms * 10 + digit;
    }
    return ms;
  }
  return storedAtOfText(timestamp);
}

function storedAtOfText(timestamp: string | number): number | undefined {
  const ms = Number(timestamp);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function headerText(name: string, value: KafkaHeaderValue): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || value instanceof Uint8Array) return text(value, `header ${name}`);
  // Several values under one name: the last one wins, as in most Kafka clients.
  const last = value[value.length - 1];
  return last === undefined ? undefined : text(last, `header ${name}`);
}

/** Whether a header is named `ce_specversion`, in any case: the mark of a binary-mode record. */
function namesSpecversion(headers: KafkaWireRecord['headers']): boolean {
  if (!headers) return false;
  for (const name in headers) if (name.length === 14 && name.toLowerCase() === 'ce_specversion') return true;
  return false;
}

function parseJson(source: string, what: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(source) };
  } catch (error) {
    return { ok: false, error: `${what} is not JSON: ${(error as Error).message}` };
  }
}

/**
 * Rebuilds the envelope a Kafka record carries, in either CloudEvents Kafka
 * binding mode:
 *
 * - **structured** (what riverlog's Kafka log writes): the value is the
 *   envelope as JSON, the key is the subject;
 * - **binary**: each attribute is a `ce_<name>` header, `content-type` is the
 *   data's media type (kept as `datacontenttype`, parameters included) and
 *   the value is the data. A missing `ce_subject` is taken from the key,
 *   which riverlog uses as the subject. Only `ce_specversion`, `ce_id`,
 *   `ce_type`, `ce_source` and a subject are needed: `time` and
 *   `dataschema` are optional (the catalog fills them, `time` from
 *   `storedAt`).
 *
 * Bytes must be valid UTF-8. Nothing is validated beyond that and the JSON:
 * pass `event` to `decodeRecord` / `catalog.decode`. When the record cannot
 * be an envelope (no value, invalid UTF-8, not JSON, not an object,
 * non-JSON data), `event` is `undefined`, `raw` holds the value as text and
 * `error` says why, exactly as a `LogRecord` of a foreign writer.
 *
 * @example
 * const stored = envelopeFromKafkaRecord({ key: message.key, value: message.value, headers: message.headers, timestamp: message.timestamp });
 * const record: LogRecord = { position: { partition: '0', offset: message.offset }, ...stored };
 */
export function envelopeFromKafkaRecord(record: KafkaWireRecord): StoredEnvelope {
  const storedAt = storedAtOf(record.timestamp);
  // Structured records (the common case, once per record read) need no header decoded and are made in one go.
  if (!namesSpecversion(record.headers)) {
    const value = record.value;
    let source: string;
    if (typeof value === 'string') source = value;
    else if (value === null || value === undefined) source = '';
    else {
      try {
        source = decodeUtf8(value, 'record value');
      } catch (error) {
        return withStoredAt({ event: undefined, raw: lenientText(value), error: (error as Error).message }, storedAt);
      }
    }
    if (source === '') return withStoredAt({ event: undefined, raw: '', error: 'record has no value (a tombstone?)' }, storedAt);
    let event: unknown;
    try {
      event = JSON.parse(source);
    } catch (error) {
      return withStoredAt({ event: undefined, raw: source, error: `record value is not JSON: ${(error as Error).message}` }, storedAt);
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      return withStoredAt(
        { event: undefined, raw: source, error: 'record value is JSON but not an object, so not a CloudEvents envelope' },
        storedAt,
      );
    }
    return storedAt === undefined ? { event } : { event, storedAt };
  }
  let stored: StoredEnvelope;
  try {
    stored = readBinaryRecord(record);
  } catch (error) {
    // Invalid UTF-8 in the value, the key or a header.
    stored = { event: undefined, raw: lenientText(record.value), error: (error as Error).message };
  }
  return withStoredAt(stored, storedAt);
}

/** `stored` with the record's time, when it has one: `stored` was made just now and is not copied. */
function withStoredAt(stored: StoredEnvelope, storedAt: number | undefined): StoredEnvelope {
  if (storedAt !== undefined) (stored as { storedAt?: number }).storedAt = storedAt;
  return stored;
}

/** A record with a `ce_specversion` header: binary mode, unless the header has no value. */
function readBinaryRecord(record: KafkaWireRecord): StoredEnvelope {
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    const decoded = headerText(name, value);
    if (decoded !== undefined) headers.set(name.toLowerCase(), decoded);
  }
  const value = record.value === null || record.value === undefined ? undefined : text(record.value, 'record value');

  if (!headers.has('ce_specversion')) {
    if (value === undefined || value === '') return { event: undefined, raw: '', error: 'record has no value (a tombstone?)' };
    return parseStructured(value, 'record value');
  }

  const event: Record<string, unknown> = {};
  for (const [name, attribute] of headers) {
    if (name.startsWith('ce_') && name.length > 3) event[name.slice(3)] = attribute;
  }
  if (event.subject === undefined && record.key !== undefined && record.key !== null) event.subject = text(record.key, 'record key');
  return withBinaryData(event, headers.get('content-type'), value);
}

/** A structured-mode message: the whole envelope as JSON. */
export function parseStructured(value: string | undefined, what: string): StoredEnvelope {
  if (value === undefined || value === '') return { event: undefined, raw: '', error: `${what} is empty` };
  const parsed = parseJson(value, what);
  if (!parsed.ok) return { event: undefined, raw: value, error: parsed.error };
  if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    return { event: undefined, raw: value, error: `${what} is JSON but not an object, so not a CloudEvents envelope` };
  }
  return { event: parsed.value };
}

/** A binary-mode message's attributes (already read from its headers) with its data. */
export function withBinaryData(event: Record<string, unknown>, contentType: string | undefined, value: string | undefined): StoredEnvelope {
  if (contentType !== undefined && !isJsonContentType(contentType)) {
    return {
      event: undefined,
      raw: value ?? '',
      error: `binary-mode data has content type ${JSON.stringify(contentType)}; riverlog events carry JSON data`,
    };
  }
  if (contentType !== undefined) event.datacontenttype = contentType;
  if (value !== undefined && value !== '') {
    const parsed = parseJson(value, 'binary-mode data');
    if (!parsed.ok) return { event: undefined, raw: value, error: parsed.error };
    event.data = parsed.value;
  }
  return { event };
}

/** The content type of a structured-mode record: a CloudEvent as JSON. */
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** A Kafka record as `envelopeToKafkaRecord` makes it: text, for any client to send. */
export interface KafkaRecordText {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

const STRUCTURED_HEADERS = Object.freeze({ 'content-type': STRUCTURED_CONTENT_TYPE });

/**
 * An envelope as a Kafka record in a CloudEvents Kafka binding mode, key =
 * subject: `structured` (the default: the value is the envelope as JSON,
 * `content-type: application/cloudevents+json; charset=utf-8`) or `binary`
 * (each attribute a `ce_<name>` header, `content-type` the data's media type,
 * the value the data as JSON). Both read back with `envelopeFromKafkaRecord`
 * and with any CloudEvents SDK.
 *
 * @example
 * const { key, value, headers } = envelopeToKafkaRecord(event);
 * await producer.send({ topic, messages: [{ key, value, headers }] });
 */
export function envelopeToKafkaRecord(event: Envelope, mode: 'structured' | 'binary' = 'structured'): KafkaRecordText {
  if (mode === 'structured') return { key: event.subject, value: envelopeText(event), headers: STRUCTURED_HEADERS };
  const headers: Record<string, string> = { 'content-type': event.datacontenttype ?? 'application/json' };
  for (const [name, attribute] of Object.entries(event)) {
    if (name === 'data' || name === 'datacontenttype' || attribute === undefined) continue;
    headers[`ce_${name}`] = typeof attribute === 'string' ? attribute : JSON.stringify(attribute);
  }
  return { key: event.subject, value: JSON.stringify(event.data) ?? '', headers };
}
