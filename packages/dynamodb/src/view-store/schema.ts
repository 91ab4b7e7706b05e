import type { CreateTableCommandInput, GlobalSecondaryIndex } from '@aws-sdk/client-dynamodb';
import { aliasTableName, checkPrefix, DEFAULT_VIEW_PREFIX, indexName, KEYS_INDEX, viewTableName } from './names.js';

/**
 * Attribute names of a view table's items (short: every byte of a name is
 * stored, and billed, with every item).
 *
 * | item | `pk` (S) | `sk` (N) | other attributes |
 * |---|---|---|---|
 * | row | `r#` + row key | 0 | `v` version, `a` applied (JSON), `d` value (JSON; absent: tombstone), `g` = `1` and `k` (B) while live, one B attribute per index it is in |
 * | table record | `m` | 0 | `ix` declared indexes, `w` id window, `c` checkpoint, `f` fences, `gen` |
 * | id chunk | `i` | sequence | `ids` (JSON array), `n` count |
 */
export const ATTR = {
  pk: 'pk',
  sk: 'sk',
  version: 'v',
  applied: 'a',
  value: 'd',
  live: 'g',
  key: 'k',
  indexes: 'ix',
  idWindow: 'w',
  checkpoint: 'c',
  fences: 'f',
  generation: 'gen',
  ids: 'ids',
  count: 'n',
} as const;

/** The `pk` of a row's item. */
export const rowPk = (key: string): string => `r#${key}`;
/** The `pk` of a view table's record (indexes, id window, checkpoint, fences). */
export const META_PK = 'm';
/** The `pk` of a view table's id chunks (`sk`: their sequence number). */
export const IDS_PK = 'i';
/** The value of `g` on every live row: the partition key of every index. */
export const LIVE = '1';

/** Options of {@link viewTableDefinition}. */
export interface ViewTableDefinitionOptions {
  /** The view's declared index names. */
  readonly indexes: readonly string[];
  /** The store's table-name prefix. Default `riverlog.`. */
  readonly prefix?: string;
}

function gsi(name: string, sortKey: string): GlobalSecondaryIndex {
  return {
    IndexName: name,
    KeySchema: [
      { AttributeName: ATTR.live, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    // Keys only: a row rewritten with the same sort keys costs no index write; `list` reads the values from the table.
    Projection: { ProjectionType: 'KEYS_ONLY' },
  };
}

/**
 * The `CreateTable` input of one view table (one version of a view), for
 * infrastructure as code or `createTables: true`: `pk` (S) hash and `sk`
 * (N) range keys, on-demand billing, and global secondary indexes `keys`
 * (rows by key) and `x.<index>` per declared index (an index name escaped
 * as in {@link dynamoName}: `byCategory` stays `byCategory`), each keyed
 * `g` (S) + its sort attribute (B), keys only.
 *
 * @example
 * import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
 * await client.send(new CreateTableCommand(viewTableDefinition('products@1', { indexes: ['byCategory'] })));
 * // TableName 'riverlog.view.products.v1', indexes 'keys' and 'x.byCategory'
 */
export function viewTableDefinition(table: string, options: ViewTableDefinitionOptions): CreateTableCommandInput {
  const prefix = checkPrefix('viewTableDefinition', options.prefix ?? DEFAULT_VIEW_PREFIX);
  const names = options.indexes.map((index) => indexName(table, index));
  return {
    TableName: viewTableName(prefix, table),
    AttributeDefinitions: [
      { AttributeName: ATTR.pk, AttributeType: 'S' },
      { AttributeName: ATTR.sk, AttributeType: 'N' },
      { AttributeName: ATTR.live, AttributeType: 'S' },
      { AttributeName: ATTR.key, AttributeType: 'B' },
      ...names.map((name) => ({ AttributeName: name, AttributeType: 'B' as const })),
    ],
    KeySchema: [
      { AttributeName: ATTR.pk, KeyType: 'HASH' },
      { AttributeName: ATTR.sk, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [gsi(KEYS_INDEX, ATTR.key), ...names.map((name) => gsi(name, name))],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/**
 * The `CreateTable` input of a store's alias table (`<prefix>aliases`,
 * `pk` (S) hash key: the alias; attribute `t`: the view table it names).
 *
 * @example
 * await client.send(new CreateTableCommand(aliasTableDefinition()));
 */
export function aliasTableDefinition(prefix: string = DEFAULT_VIEW_PREFIX): CreateTableCommandInput {
  return {
    TableName: aliasTableName(checkPrefix('aliasTableDefinition', prefix)),
    AttributeDefinitions: [{ AttributeName: ATTR.pk, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: ATTR.pk, KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}
