/**
 * Every code a `RiverlogError` carries, and every code a dead letter is
 * filed under. The root README's "Errors" table lists each once with its
 * meaning; a test compares the table, this list and the codes the packages'
 * sources throw, so a new code needs a row there and an entry here.
 *
 * @example
 * if (error instanceof RiverlogError && error.code === 'LEASE_LOST') stopPartition();
 */
export const RIVERLOG_ERROR_CODES = [
  // Events and the catalog
  'VALIDATION_FAILED',
  'UNKNOWN_EVENT_TYPE',
  'EVENT_TOO_LARGE',
  'DECODE_FAILED',
  'UNREADABLE_VERSION',
  'INVALID_UTF8',
  'INVALID_CATALOG',
  // Options and lifecycles
  'INVALID_OPTION',
  'INVALID_STATE',
  'CLOSED',
  'STOPPED',
  'CAUGHT_UP_TIMEOUT',
  'MISSING_DEPENDENCY',
  'UNSUPPORTED',
  // Logs
  'LOG_OPEN_FAILED',
  'LOG_READ_FAILED',
  'LOG_WRITE_FAILED',
  'LOG_FORMAT',
  'LOG_BUSY',
  'STORE_BUSY',
  'APPEND_MISMATCH',
  'PARTITION_COUNT_MISMATCH',
  'UNKNOWN_PARTITION',
  'EXPORT_FAILED',
  'IMPORT_FAILED',
  // Consumers, groups and leases
  'LEASE_LOST',
  'CONFLICT',
  'HANDLER_FAILED',
  // Views and their stores
  'STORE_OPEN_FAILED',
  'INVALID_VIEW',
  'INVALID_VIEW_VALUE',
  'INVALID_INDEX_KEY',
  'UNKNOWN_INDEX',
  'UNKNOWN_VIEW_TABLE',
  'ROW_TOO_LARGE',
  'COMMIT_TOO_LARGE',
  'VIEW_INDEX_FAILED',
  'APPLY_FAILED',
] as const;

/** A stable code of a `RiverlogError` or a dead letter: match on it, not on the message. */
export type RiverlogErrorCode = (typeof RIVERLOG_ERROR_CODES)[number];

const known: ReadonlySet<string> = new Set(RIVERLOG_ERROR_CODES);

/**
 * Whether `code` is one of riverlog's codes (e.g. read back from a dead-letter store).
 *
 * @example
 * if (isRiverlogErrorCode(letter.code)) report(letter.code);
 */
export function isRiverlogErrorCode(code: unknown): code is RiverlogErrorCode {
  return typeof code === 'string' && known.has(code);
}
