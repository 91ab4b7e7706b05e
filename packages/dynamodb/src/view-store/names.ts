import { RiverlogError } from '@riverlog/core';

/**
 * A name as DynamoDB takes it in table and index names (`[A-Za-z0-9_.-]`):
 * letters, digits, `_` and `-` stay, `@` becomes `.v` (so `products@2`
 * reads `products.v2`), every other character becomes `.` and two hex
 * digits per UTF-8 byte. `.` only ever starts an escape, so two names never
 * map to one.
 *
 * @example
 * dynamoName('products@2'); // 'products.v2'
 * dynamoName('by category'); // 'by.20category'
 */
export function dynamoName(name: string): string {
  let out = '';
  for (const char of name) {
    if (/^[A-Za-z0-9_-]$/.test(char)) out += char;
    else if (char === '@') out += '.v';
    else for (const byte of Buffer.from(char, 'utf8')) out += `.${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The name {@link dynamoName} was made from, or undefined when `escaped` is
 * not one of its results.
 *
 * @example
 * fromDynamoName('products.v2'); // 'products@2'
 */
export function fromDynamoName(escaped: string): string | undefined {
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    out += Buffer.from(bytes).toString('utf8');
    bytes = [];
  };
  for (let i = 0; i < escaped.length; ) {
    const hex = escaped[i] === '.' ? /^[0-9a-f]{2}/.exec(escaped.slice(i + 1, i + 3))?.[0] : undefined;
    if (hex !== undefined) {
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    flush();
    if (escaped.startsWith('.v', i)) {
      out += '@';
      i += 2;
    } else {
      out += escaped[i];
      i++;
    }
  }
  flush();
  // Only a name dynamoName makes maps back (no stray dots, no bytes that are not UTF-8).
  return dynamoName(out) === escaped ? out : undefined;
}

/** The prefix every table of a store starts with when none is given. */
export const DEFAULT_VIEW_PREFIX = 'riverlog.';

/** Checks a store's table-name prefix: DynamoDB name characters only, short enough to leave room for a view's name. */
export function checkPrefix(where: string, prefix: unknown): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{0,200}$/.test(prefix)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: prefix must be up to 200 of A-Z a-z 0-9 _ . - (DynamoDB table name characters), got ${JSON.stringify(prefix)}.`,
    );
  }
  return prefix;
}

/**
 * The DynamoDB table holding one view table (a view version), e.g.
 * `riverlog.view.products.v2` for `products@2`.
 */
export function viewTableName(prefix: string, table: string): string {
  const name = `${prefix}view.${dynamoName(table)}`;
  if (name.length > 255) {
    throw new RiverlogError(
      'INVALID_VIEW',
      `View table ${table}: its DynamoDB table name would be ${name.length} characters (${name.slice(0, 60)}…); DynamoDB takes 255 at most. Give the view a shorter name or the store a shorter prefix.`,
    );
  }
  return name;
}

/** The DynamoDB table holding a store's aliases, e.g. `riverlog.aliases`. */
export function aliasTableName(prefix: string): string {
  return `${prefix}aliases`;
}

/** The global secondary index listing rows by key. */
export const KEYS_INDEX = 'keys';

/** The global secondary index (and its sort key attribute) of a view index, e.g. `x.byCategory`. */
export function indexName(table: string, index: string): string {
  const name = `x.${dynamoName(index)}`;
  if (name.length > 255) {
    throw new RiverlogError(
      'INVALID_VIEW',
      `View table ${table}: index ${JSON.stringify(index.slice(0, 60))} is too long for a DynamoDB index name (255 characters at most once escaped).`,
    );
  }
  return name;
}
