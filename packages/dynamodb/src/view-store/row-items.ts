import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type PositionMap, RiverlogError, type RowWrite, type StoredRow } from '@riverlog/core';
import { sortableBytes } from '@riverlog/core/backend';
import { indexName } from './names.js';
import { ATTR, LIVE, rowPk } from './schema.js';

/** DynamoDB's largest item: 400 KB, attribute names included. */
export const MAX_ITEM_BYTES = 400 * 1024;

/** DynamoDB's longest sort key value, in an index too. */
const MAX_SORT_KEY_BYTES = 1024;

/** A lone surrogate: DynamoDB keeps strings as UTF-8, which cannot hold one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type Item = Record<string, AttributeValue>;

/**
 * The item of one row write (a tombstone: `json` undefined), refusing what
 * DynamoDB cannot keep with an error naming the view table, the row key and
 * the size: a key with a lone surrogate or over 1,024 bytes, an index key over
 * 1,024 bytes (`INVALID_VIEW_VALUE`), an item over 400 KB (`ROW_TOO_LARGE`).
 */
export function rowItem(
  table: string,
  write: RowWrite,
  version: number,
  json: string | undefined,
  sorts: ReadonlyMap<string, string> | undefined,
): Item {
  const { key } = write;
  if (LONE_SURROGATE.test(key)) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(key)}: the key holds a lone surrogate, which DynamoDB (UTF-8 strings) cannot keep. Nothing more of the commit was written.`,
    );
  }
  const keyBytes = sortableBytes(key);
  if (keyBytes.length > MAX_SORT_KEY_BYTES) {
    throw new RiverlogError(
      'INVALID_VIEW_VALUE',
      `View table ${table}, row ${JSON.stringify(`${key.slice(0, 40)}…`)}: the key is ${keyBytes.length} bytes; the DynamoDB view store takes keys of up to ${MAX_SORT_KEY_BYTES} bytes (it sorts rows by key in an index). Use a shorter key, e.g. a hash of this one.`,
    );
  }
  const applied = JSON.stringify(write.applied);
  const item: Item = {
    [ATTR.pk]: { S: rowPk(key) },
    [ATTR.sk]: { N: '0' },
    [ATTR.version]: { N: String(version) },
    [ATTR.applied]: { S: applied },
  };
  // Names and values of the fixed attributes, numbers counted at their largest (21 bytes).
  let size = 2 + Buffer.byteLength(item[ATTR.pk]?.S as string) + 2 + 21 + 1 + 21 + 1 + Buffer.byteLength(applied);
  if (json !== undefined) {
    item[ATTR.value] = { S: json };
    item[ATTR.live] = { S: LIVE };
    item[ATTR.key] = { B: keyBytes };
    size += 1 + 2 + 1 + keyBytes.length;
    if (sorts) {
      for (const [index, sort] of sorts) {
        const name = indexName(table, index);
        const bytes = sortableBytes(sort);
        if (bytes.length > MAX_SORT_KEY_BYTES) {
          throw new RiverlogError(
            'INVALID_VIEW_VALUE',
            `View table ${table}, row ${JSON.stringify(key)}: its key in index ${index} and the row key make ${bytes.length} bytes; a DynamoDB index sort key takes ${MAX_SORT_KEY_BYTES} at most. Shorten the index key.`,
          );
        }
        item[name] = { B: bytes };
        size += name.length + bytes.length;
      }
    }
    // A code unit is at most 3 UTF-8 bytes: the value is measured only when that bound would not fit.
    size += size + json.length * 3 > MAX_ITEM_BYTES ? Buffer.byteLength(json) : json.length * 3;
  }
  if (size > MAX_ITEM_BYTES) {
    throw new RiverlogError(
      'ROW_TOO_LARGE',
      `View table ${table}, row ${JSON.stringify(key)}: the item would be ${size} bytes (value, key, applied marks and index keys); DynamoDB takes ${MAX_ITEM_BYTES} bytes per item. Keep large data elsewhere and store a reference. Nothing more of the commit was written.`,
    );
  }
  return item;
}

/** The stored row of an item read back (with `pk`, `v`, `a` and `d`). */
export function storedRow(item: Item): StoredRow {
  const json = item[ATTR.value]?.S;
  return {
    key: (item[ATTR.pk]?.S as string).slice(2),
    value: json === undefined ? undefined : JSON.parse(json),
    applied: JSON.parse(item[ATTR.applied]?.S ?? '{}') as PositionMap,
    version: Number(item[ATTR.version]?.N ?? 0),
  };
}
