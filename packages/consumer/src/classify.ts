import { type Catalog, type DecodeError, decodeRecord, type EventOf, type LogRecord } from '@riverlog/core';

/**
 * What a record turned out to be once decoded against the catalog:
 * - `event`: a known, valid event (upcast to the current version, unknown fields dropped);
 * - `unknown-type`: a valid envelope of a type the catalog does not define (ignore or dead-letter it);
 * - `not-envelope`: not an envelope at all (not JSON, invalid UTF-8, required attributes missing): dead-letter it and move on;
 * - `unreadable`: an event this catalog cannot read yet (a newer version, or a payload failing its schema): stop or dead-letter.
 */
export type Classified<Event> =
  | { readonly kind: 'event'; readonly event: Event }
  | { readonly kind: 'unknown-type'; readonly type: string; readonly error: DecodeError }
  | { readonly kind: 'not-envelope'; readonly error: DecodeError }
  | { readonly kind: 'unreadable'; readonly error: DecodeError };

/** Dead-letter codes the consumer and the Lambda adapters use. */
export const DeadLetterCodes = {
  /** The record is not an envelope, or its payload fails its schema (or its upcaster failed). */
  decodeFailed: 'DECODE_FAILED',
  /** A valid envelope of a type the catalog does not define. */
  unknownType: 'UNKNOWN_EVENT_TYPE',
  /** An event of a version newer than the catalog knows. */
  unreadableVersion: 'UNREADABLE_VERSION',
  /** The handler kept failing past the retry policy. */
  handlerFailed: 'HANDLER_FAILED',
} as const;

/**
 * Decodes a record (envelope check, upcast, payload check) and says which
 * of the four outcomes it is, from core's `DecodeError.kind`.
 *
 * @example
 * const classified = classifyRecord(catalog, record);
 * if (classified.kind === 'unreadable') stopPartition(classified.error);
 */
export function classifyRecord<C extends Catalog>(catalog: C, record: LogRecord): Classified<EventOf<C>> {
  const decoded = decodeRecord(catalog, record);
  if (decoded._tag === 'Right') return { kind: 'event', event: decoded.right as EventOf<C> };
  return classifyFailure(decoded.left);
}

/** Which of the three failures a `DecodeError` is. */
export function classifyFailure(error: DecodeError): Exclude<Classified<never>, { kind: 'event' }> {
  switch (error.kind) {
    case 'unknown-type':
      return { kind: 'unknown-type', type: error.type ?? '', error };
    case 'not-envelope':
      return { kind: 'not-envelope', error };
    default:
      return { kind: 'unreadable', error };
  }
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
