import { ConflictError, RiverlogError } from './errors.js';
import { encodeIndexKey } from './index-key.js';
import type { IndexKey, RowWrite, ViewCommit, ViewQuery, ViewStoreLimits, ViewTableSpec } from './ports.js';

/**
 * What every view store in this repository accepts: 10,000 row writes per
 * commit and rows of up to 1 MiB of JSON. The memory store declares the
 * same numbers as SQLite so tests behave alike on both.
 */
export const DEFAULT_VIEW_LIMITS: ViewStoreLimits = Object.freeze({ maxRowsPerCommit: 10_000, maxRowBytes: 1_048_576 });

/** Rows a `list` page holds when the query gives no `limit`. */
export const DEFAULT_LIST_LIMIT = 100;

/**
 * How many ids past its window a table may hold before the oldest are
 * pruned: pruning runs once per this many ids, not on every commit.
 *
 * @example
 * idPruneEvery(100_000); // 6250
 */
export function idPruneEvery(idWindow: number): number {
  return Math.max(256, Math.ceil(idWindow / 16));
}

/** Refuses a table spec that is not `{ indexes: string[] (distinct), idWindow: integer ≥ 0 }`. */
export function checkTableSpec(table: string, spec: ViewTableSpec): void {
  const where = `createTable(${JSON.stringify(table)})`;
  if (typeof table !== 'string' || table === '') {
    throw new RiverlogError('INVALID_OPTION', `createTable: the table name must be a non-empty string, got ${JSON.stringify(table)}.`);
  }
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.indexes)) {
    throw new RiverlogError('INVALID_OPTION', `${where}: pass { indexes: string[], idWindow: number }.`);
  }
  for (const index of spec.indexes) {
    if (typeof index !== 'string' || index === '') {
      throw new RiverlogError('INVALID_OPTION', `${where}: indexes must be non-empty strings, got ${JSON.stringify(index)}.`);
    }
  }
  if (new Set(spec.indexes).size !== spec.indexes.length) {
    throw new RiverlogError('INVALID_OPTION', `${where}: indexes are listed twice in ${JSON.stringify(spec.indexes)}.`);
  }
  if (!Number.isSafeInteger(spec.idWindow) || spec.idWindow < 0) {
    throw new RiverlogError('INVALID_OPTION', `${where}: idWindow must be an integer ≥ 0, got ${JSON.stringify(spec.idWindow)}.`);
  }
}

/**
 * Refuses `createTable` on an existing table with another spec: its indexes
 * (in any order) and its id window are fixed when it is created. A window
 * changed under a live table would fold duplicates twice (grown: the ids it
 * never kept) or forget ids it promised to keep (shrunk).
 */
export function checkSameTable(table: string, stored: ViewTableSpec, requested: ViewTableSpec): void {
  const { indexes } = stored;
  if (indexes.length !== requested.indexes.length || !indexes.every((index) => requested.indexes.includes(index))) {
    throw new RiverlogError(
      'INVALID_VIEW',
      `View table ${table} exists with indexes [${indexes.join(', ')}], not [${requested.indexes.join(', ')}]. A table's indexes are fixed when it is created: give the view a new version to change them.`,
    );
  }
  if (stored.idWindow !== requested.idWindow) {
    throw new RiverlogError(
      'INVALID_VIEW',
      `View table ${table} exists with an id window of ${stored.idWindow} ids, not ${requested.idWindow}. A table's id window is fixed when it is created (changed under it, duplicates would be folded twice or kept ids forgotten): give the view a new version to change it.`,
    );
  }
}

/** A commit to a table that was never created (or was dropped). */
export function unknownTable(table: string): RiverlogError {
  return new RiverlogError(
    'UNKNOWN_VIEW_TABLE',
    `View table ${table} does not exist (never created, or dropped). Create it with createTable before committing to it; nothing was written.`,
  );
}

/** A query or a row write that names an index the table did not declare. */
export function unknownIndex(table: string, index: string, declared: readonly string[]): RiverlogError {
  return new RiverlogError(
    'UNKNOWN_INDEX',
    `View table ${table} has no index ${JSON.stringify(index)}; it declares ${declared.length > 0 ? declared.map((d) => JSON.stringify(d)).join(', ') : 'no indexes'}. Declare indexes when the table is created.`,
  );
}

/** A row whose stored version is not the one the writer read. */
export function rowConflict(table: string, key: string, expected: number, found: number): ConflictError {
  const was = (v: number) => (v === 0 ? 'absent' : `version ${v}`);
  return new ConflictError(
    `View table ${table}, row ${JSON.stringify(key)}: written as if ${was(expected)}, but it is ${was(found)}; another writer changed it first. The commit was refused: re-read the row and fold again.`,
  );
}

/** An event id the table has already folded (or one listed twice in the commit). */
export function idConflict(table: string, id: string): ConflictError {
  return new ConflictError(
    `View table ${table}: event id ${JSON.stringify(id)} was already folded into it (within its id window); another writer folded it first. The commit was refused: re-read and fold again without it.`,
  );
}

/**
 * Serializes a row's value for storage, refusing what JSON cannot hold
 * (`INVALID_VIEW_VALUE`) and a row over `maxRowBytes` (`ROW_TOO_LARGE`).
 * A tombstone (`undefined`) is `undefined`.
 */
export function rowJson(table: string, key: string, value: unknown, maxRowBytes: number): string | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(key)}: the value cannot be stored as JSON (${(error as Error).message}). Nothing was written.`,
    );
  }
  if (text === undefined) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(key)}: a ${typeof value} cannot be stored as JSON. Nothing was written.`,
    );
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only texts that could be too large are measured.
  if (text.length * 3 > maxRowBytes) {
    const size = Buffer.byteLength(text, 'utf8');
    if (size > maxRowBytes) {
      throw new RiverlogError(
        'ROW_TOO_LARGE',
        `View table ${table}, row ${JSON.stringify(key)}: the value is ${size} bytes as JSON; this store takes at most ${maxRowBytes}. Keep large data elsewhere and store a reference. Nothing was written.`,
      );
    }
  }
  return text;
}

/**
 * The checks every store makes on a commit before touching anything: the
 * row count against the limit, each row key, value (JSON, size) and index
 * keys (declared, encodable). Returns each row's JSON (undefined: tombstone)
 * and its encoded sort keys by index.
 */
export function checkCommit(
  table: string,
  commit: ViewCommit,
  limits: ViewStoreLimits,
  declared: readonly string[],
): { json: (string | undefined)[]; sorts: (Map<string, string> | undefined)[] } {
  if (!commit || typeof commit !== 'object' || !Array.isArray(commit.rows) || !Array.isArray(commit.ids)) {
    throw new RiverlogError('INVALID_OPTION', `commit(${JSON.stringify(table)}): pass { rows, ids, positions, fence? }.`);
  }
  if (commit.rows.length > limits.maxRowsPerCommit) {
    throw new RiverlogError(
      'COMMIT_TOO_LARGE',
      `View table ${table}: a commit of ${commit.rows.length} row writes; this store takes at most ${limits.maxRowsPerCommit} per commit. Cut it into several. Nothing was written.`,
    );
  }
  const json: (string | undefined)[] = new Array(commit.rows.length);
  const sorts: (Map<string, string> | undefined)[] = new Array(commit.rows.length);
  for (let i = 0; i < commit.rows.length; i++) {
    const row = commit.rows[i] as RowWrite;
    if (typeof row.key !== 'string') {
      throw new RiverlogError('INVALID_OPTION', `View table ${table}: row keys must be strings, got ${JSON.stringify(row.key)}.`);
    }
    if (!Number.isSafeInteger(row.expectedVersion) || row.expectedVersion < 0) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `View table ${table}, row ${JSON.stringify(row.key)}: expectedVersion must be an integer ≥ 0, got ${JSON.stringify(row.expectedVersion)}.`,
      );
    }
    json[i] = rowJson(table, row.key, row.value, limits.maxRowBytes);
    if (row.value !== undefined && row.indexes) {
      const byIndex = new Map<string, string>();
      for (const index in row.indexes) {
        if (!declared.includes(index)) throw unknownIndex(table, index, declared);
        byIndex.set(index, encodeIndexKey(row.indexes[index] as IndexKey) + row.key);
      }
      sorts[i] = byIndex;
    }
  }
  return { json, sorts };
}

/** A list query checked, with its defaults filled in. `after` is where the previous page stopped (a sort position). */
export interface CheckedQuery {
  readonly index: string | undefined;
  /** The encoded prefix (index keys only), '' for none. */
  readonly prefix: string;
  readonly limit: number;
  readonly reverse: boolean;
  readonly after: string | undefined;
}

/**
 * Checks a `list` query against the table's declared indexes: an undeclared
 * index is `UNKNOWN_INDEX`, a bad limit or cursor `INVALID_OPTION`.
 */
export function checkQuery(table: string, query: ViewQuery | undefined, declared: readonly string[]): CheckedQuery {
  const q = query ?? {};
  const where = `list(${JSON.stringify(table)})`;
  if (typeof q !== 'object') throw new RiverlogError('INVALID_OPTION', `${where}: the query must be an object.`);
  if (q.index !== undefined && !declared.includes(q.index)) throw unknownIndex(table, q.index, declared);
  const limit = q.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RiverlogError('INVALID_OPTION', `${where}: limit must be an integer ≥ 1, got ${JSON.stringify(q.limit)}.`);
  }
  let prefix = '';
  if (q.prefix !== undefined && q.prefix.length > 0) {
    if (q.index === undefined) {
      throw new RiverlogError('INVALID_OPTION', `${where}: a prefix needs an index (rows listed by key take none).`);
    }
    prefix = encodeIndexKey(q.prefix);
  }
  return {
    index: q.index,
    prefix,
    limit,
    reverse: q.reverse === true,
    after: q.cursor === undefined ? undefined : decodeCursor(where, q.cursor),
  };
}

/**
 * The cursor after a row: its sort position (the row key when listing by
 * key, else the encoded index key followed by the row key), opaque to callers.
 */
export function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify([position]), 'utf8').toString('base64url');
}

function decodeCursor(where: string, cursor: string): string {
  let position: unknown;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 1) position = parsed[0];
  } catch {
    // refused below
  }
  if (typeof position !== 'string') {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: cursor ${JSON.stringify(cursor)} is not one this store returned; pass a page's cursor unchanged.`,
    );
  }
  return position;
}
