import { describeIssues } from './issues.js';
import type { Position } from './position.js';

/**
 * The base of every error riverlog throws. `code` is stable across releases:
 * match on it, not on the message.
 */
export class RiverlogError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
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

/** A record read from a log could not be turned into a known, valid event. */
export class DecodeError extends RiverlogError {
  readonly position: Position | undefined;
  readonly type: string | undefined;
  readonly issues: readonly ValidationIssue[];
  constructor(reason: string, details: { position?: Position; type?: string; issues?: readonly ValidationIssue[] } = {}) {
    const at = details.position ? ` at partition ${details.position.partition}, offset ${details.position.offset}` : '';
    const what = details.type ? ` (type ${JSON.stringify(details.type)})` : '';
    super('DECODE_FAILED', `Cannot decode record${at}${what}: ${reason}`);
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
 * A write was refused because someone else moved the same checkpoint or
 * lease first (a stale process after a takeover). Nothing was written; reload and retry.
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
