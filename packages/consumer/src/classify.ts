import { type Catalog, decodeRecord, EnvelopeCodec, type EventOf, type LogRecord } from '@riverlog/core';

/** What a record turned out to be once decoded against the catalog. */
export type Classified<Event> =
  | { readonly kind: 'event'; readonly event: Event }
  | { readonly kind: 'unknown-type'; readonly type: string; readonly reason: string }
  | { readonly kind: 'poison'; readonly reason: string };

/** Dead-letter codes the consumer and the Lambda adapters use. */
export const DeadLetterCodes = {
  /** The record is not an envelope, or its payload does not decode (schema, version, upcaster). */
  decodeFailed: 'DECODE_FAILED',
  /** A valid envelope of a type the catalog does not define. */
  unknownType: 'UNKNOWN_EVENT_TYPE',
  /** The handler kept failing past the retry policy. */
  handlerFailed: 'HANDLER_FAILED',
} as const;

/**
 * Decodes a record (envelope check, upcast, payload check). A valid envelope
 * of a type the catalog does not know is told apart from a broken record, so
 * callers can ignore the first and must dead-letter the second.
 */
export function classifyRecord<C extends Catalog>(catalog: C, record: LogRecord): Classified<EventOf<C>> {
  const decoded = decodeRecord(catalog, record);
  if (decoded._tag === 'Right') return { kind: 'event', event: decoded.right as EventOf<C> };
  const error = decoded.left;
  if (error.type !== undefined && !catalog.has(error.type) && EnvelopeCodec.is(record.event)) {
    return { kind: 'unknown-type', type: error.type, reason: error.message };
  }
  return { kind: 'poison', reason: error.message };
}

/** An error's message for a dead letter's reason, whatever was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    return String(error);
  }
}
