import type { LogRecord } from './ports.js';

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
}

/** What a record holds, as a `LogRecord` carries it: the envelope, or the raw text and why it is not one. */
export type StoredEnvelope = Pick<LogRecord, 'event' | 'raw' | 'error'>;

/** The bytes as UTF-8 text, without copying them first (a kafkajs `Buffer` or any `Uint8Array`). */
function text(value: Uint8Array | string): string {
  if (typeof value === 'string') return value;
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return bytes.toString('utf8');
}

function headerText(value: KafkaHeaderValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' || value instanceof Uint8Array) return text(value);
  // Several values under one name: the last one wins, as in most Kafka clients.
  const last = value[value.length - 1];
  return last === undefined ? undefined : text(last);
}

/** Whether a header is named `ce_specversion`, in any case: the mark of a binary-mode record. */
function namesSpecversion(headers: KafkaWireRecord['headers']): boolean {
  if (!headers) return false;
  for (const name in headers) if (name.length === 14 && name.toLowerCase() === 'ce_specversion') return true;
  return false;
}

function isJsonMediaType(contentType: string): boolean {
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return media === 'application/json' || media === 'text/json' || media.endsWith('+json');
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
 *   data's media type and the value is the data. A missing `ce_subject` is
 *   taken from the key, which riverlog uses as the subject.
 *
 * Nothing is validated beyond the JSON: pass `event` to `catalog.decode`.
 * When the record cannot be an envelope (no value, not JSON, not an object,
 * non-JSON data), `event` is `undefined`, `raw` holds the value as text and
 * `error` says why, exactly as a `LogRecord` of a foreign writer.
 *
 * @example
 * const stored = envelopeFromKafkaRecord({ key: message.key, value: message.value, headers: message.headers });
 * const record: LogRecord = { position: { partition: '0', offset: message.offset }, ...stored };
 */
export function envelopeFromKafkaRecord(record: KafkaWireRecord): StoredEnvelope {
  const headers = new Map<string, string>();
  // Structured records (the common case) need no header decoded: look for binary mode's marker by name first.
  if (namesSpecversion(record.headers)) {
    for (const [name, value] of Object.entries(record.headers ?? {})) {
      const decoded = headerText(value);
      if (decoded !== undefined) headers.set(name.toLowerCase(), decoded);
    }
  }
  const value = record.value === null || record.value === undefined ? undefined : text(record.value);

  if (!headers.has('ce_specversion')) {
    if (value === undefined || value === '') return { event: undefined, raw: '', error: 'record has no value (a tombstone?)' };
    const parsed = parseJson(value, 'record value');
    if (!parsed.ok) return { event: undefined, raw: value, error: parsed.error };
    if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
      return { event: undefined, raw: value, error: 'record value is JSON but not an object, so not a CloudEvents envelope' };
    }
    return { event: parsed.value };
  }

  const event: Record<string, unknown> = {};
  for (const [name, attribute] of headers) {
    if (name.startsWith('ce_') && name.length > 3) event[name.slice(3)] = attribute;
  }
  if (event.subject === undefined && record.key !== undefined && record.key !== null) event.subject = text(record.key);
  const contentType = headers.get('content-type');
  if (contentType !== undefined && !isJsonMediaType(contentType)) {
    return {
      event: undefined,
      raw: value ?? '',
      error: `binary-mode data has content type ${JSON.stringify(contentType)}; riverlog events carry JSON data`,
    };
  }
  if (contentType !== undefined && contentType.split(';')[0]?.trim().toLowerCase() === 'application/json') {
    event.datacontenttype = 'application/json';
  }
  if (value !== undefined && value !== '') {
    const parsed = parseJson(value, 'binary-mode data');
    if (!parsed.ok) return { event: undefined, raw: value, error: parsed.error };
    event.data = parsed.value;
  }
  return { event };
}
