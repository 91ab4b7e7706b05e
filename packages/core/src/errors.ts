import type { RiverlogErrorCode } from './error-codes.js';
import { describeIssues } from './issues.js';
import type { Position } from './position.js';

export { isRiverlogErrorCode, RIVERLOG_ERROR_CODES, type RiverlogErrorCode } from './error-codes.js';

/**
 * The base of every error riverlog throws. `code` is stable across releases:
 * match on it, not on the message. Every code is listed, with its meaning, in
 * the README's "Errors" table.
 *
 * @example
 * try { await log.append(events); } catch (error) {
 *   if (error instanceof RiverlogError && error.code === 'EVENT_TOO_LARGE') shrink(events);
 * }
 */
export class RiverlogError extends Error {
  readonly code: RiverlogErrorCode;
  constructor(code: RiverlogErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One field that failed validation. */
export interface ValidationIssue {
  /** Dotted path from the envelope or payload root, e.g. `data.brand` or `data.tags.2`. */
  readonly path: string;
  /** What the schema expected there, e.g. `string`. */
  readonly expected: string;
  /** The value found, as JSON, truncated to 60 characters. */
  readonly actual: string;
}

/** An event (or its envelope) does not match its schema in the catalog. Nothing was written. */
export class ValidationError extends RiverlogError {
  readonly type: string;
  readonly issues: readonly ValidationIssue[];
  constructor(type: string, issues: readonly ValidationIssue[], where = '') {
    super(
      'VALIDATION_FAILED',
      `Invalid ${JSON.stringify(type)} event${where}: ${describeIssues(issues)}. Fix the fields listed; nothing was written.`,
    );
    this.type = type;
    this.issues = issues;
  }
}

/** An event type that the catalog does not define. */
export class UnknownEventTypeError extends RiverlogError {
  readonly type: string;
  constructor(type: string, known: readonly string[]) {
    const list = known.length > 8 ? `${known.slice(0, 8).join(', ')}, …` : known.join(', ');
    super(
      'UNKNOWN_EVENT_TYPE',
      `Unknown event type ${JSON.stringify(type)}: the catalog defines ${list || 'no types'}. Add it to the catalog with defineEvent.`,
    );
    this.type = type;
  }
}

/** A serialized event is larger than the log accepts. Nothing was written. */
export class EventTooLargeError extends RiverlogError {
  readonly type: string;
  readonly id: string;
  readonly size: number;
  readonly limit: number;
  constructor(type: string, id: string, size: number, limit: number) {
    super(
      'EVENT_TOO_LARGE',
      `Event ${id} of type ${JSON.stringify(type)} is ${size} bytes serialized; this log accepts at most ${limit} bytes. Store large payloads elsewhere and reference them.`,
    );
    this.type = type;
    this.id = id;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Why a record could not be read, and so what a reader does with it:
 * - `not-envelope`: not a CloudEvents envelope riverlog can read (not JSON, missing `id`/`type`/`source`/`subject`,
 *   non-JSON data): dead-letter it and move on (code `DECODE_FAILED`);
 * - `unknown-type`: a valid envelope of a type the catalog does not define: ignore or dead-letter it (code `UNKNOWN_EVENT_TYPE`);
 * - `newer-version`: written with a version newer than the catalog knows: stop the partition until the newer catalog
 *   is deployed, or dead-letter it where the user chose so (code `UNREADABLE_VERSION`);
 * - `invalid`: a known type and version whose payload fails its schema (or its upcaster failed): stop the partition,
 *   or dead-letter it where the user chose so (code `DECODE_FAILED`).
 */
export type DecodeFailure = 'not-envelope' | 'unknown-type' | 'newer-version' | 'invalid';

const DECODE_CODES = {
  'not-envelope': 'DECODE_FAILED',
  'unknown-type': 'UNKNOWN_EVENT_TYPE',
  'newer-version': 'UNREADABLE_VERSION',
  invalid: 'DECODE_FAILED',
} as const satisfies Record<DecodeFailure, RiverlogErrorCode>;

/**
 * A record read from a log could not be turned into a known, valid event.
 * `kind` says why (and so whether to stop the partition or dead-letter the
 * record); `code` follows from it.
 *
 * @example
 * const decoded = decodeRecord(catalog, record);
 * if (decoded._tag === 'Left' && decoded.left.kind === 'newer-version') stopPartition(decoded.left);
 */
export class DecodeError extends RiverlogError {
  /** Why it could not be read: `not-envelope` → dead letter; `newer-version` / `invalid` → stop the partition (or dead letter if chosen); `unknown-type` → the reader's choice. */
  readonly kind: DecodeFailure;
  declare readonly code: (typeof DECODE_CODES)[DecodeFailure];
  readonly position: Position | undefined;
  readonly type: string | undefined;
  readonly issues: readonly ValidationIssue[];
  constructor(
    kind: DecodeFailure,
    reason: string,
    details: { position?: Position; type?: string; issues?: readonly ValidationIssue[] } = {},
  ) {
    const at = details.position ? ` at partition ${details.position.partition}, offset ${details.position.offset}` : '';
    const what = details.type ? ` (type ${JSON.stringify(details.type)})` : '';
    super(DECODE_CODES[kind], `Cannot decode record${at}${what}: ${reason}`);
    this.kind = kind;
    this.position = details.position;
    this.type = details.type;
    this.issues = details.issues ?? [];
  }
}

/** The log, store or producer was used after `close()`. */
export class ClosedError extends RiverlogError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed; create a new one to continue.`);
  }
}

/** A log's storage is not a riverlog log, is corrupt, or was written by an incompatible version. Nothing was changed. */
export class LogFormatError extends RiverlogError {
  readonly location: string;
  constructor(location: string, reason: string, options?: ErrorOptions) {
    super('LOG_FORMAT', `${location} is not a usable riverlog log: ${reason}. Nothing was changed.`, options);
    this.location = location;
  }
}

/** A log was opened with a partition count other than the one it was created with. Nothing was changed. */
export class PartitionCountError extends RiverlogError {
  readonly location: string;
  readonly stored: number;
  readonly requested: number;
  constructor(location: string, stored: number, requested: number) {
    super(
      'PARTITION_COUNT_MISMATCH',
      `${location} was created with ${stored} partitions but was opened with partitions: ${requested}. Open it with ${stored} (or omit the option); nothing was changed.`,
    );
    this.location = location;
    this.stored = stored;
    this.requested = requested;
  }
}

/**
 * A guarded write lost a race: a view row is no longer the version that was
 * read, or an alias or lease moved first. Nothing was written; re-read and retry.
 */
export class ConflictError extends RiverlogError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/**
 * A checkpoint save or view commit was made under a lease that another
 * process has since taken (its fencing token is stale). Nothing was written;
 * the worker stops that partition at once.
 */
export class LeaseLostError extends RiverlogError {
  readonly partition: string;
  readonly epoch: number;
  readonly stored: number;
  constructor(where: string, partition: string, epoch: number, stored: number) {
    super(
      'LEASE_LOST',
      `${where}, partition ${partition}: written under lease epoch ${epoch}, but the store has seen epoch ${stored}; another process took the partition over. Nothing was written.`,
    );
    this.partition = partition;
    this.epoch = epoch;
    this.stored = stored;
  }
}

/**
 * Bytes read from a log are not valid UTF-8. `offset` is the index of the
 * first byte that is not part of a valid sequence.
 */
export class InvalidUtf8Error extends RiverlogError {
  readonly offset: number;
  constructor(offset: number, what = 'the bytes') {
    super('INVALID_UTF8', `Invalid UTF-8 in ${what} at byte ${offset}: refused rather than replaced with U+FFFD.`);
    this.offset = offset;
  }
}
