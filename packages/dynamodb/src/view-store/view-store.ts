import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  type DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  type ListTablesCommandOutput,
  PutItemCommand,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type BackoffOptions,
  type BackoffPolicy,
  backoffPolicy,
  ClosedError,
  defaultBackoff,
  type PositionMap,
  RiverlogError,
  type StoredRow,
  ulid,
  type ViewCommit,
  type ViewPage,
  type ViewRow,
  type ViewStore,
  type ViewStoreLimits,
} from '@riverlog/core';
import {
  checkCommit,
  checkFence,
  checkOptions,
  checkQuery,
  checkSameTable,
  checkTableSpec,
  encodeCursor,
  fromSortableBytes,
  idConflict,
  rowConflict,
  sleep,
  sortableBytes,
  unknownTable,
} from '@riverlog/core/backend';
import { batchWriteAll, sendRetrying } from '../client.js';
import { IdWindow } from './id-window.js';
import { eachLimited } from './limited.js';
import { aliasTableName, checkPrefix, DEFAULT_VIEW_PREFIX, fromDynamoName, indexName, KEYS_INDEX, viewTableName } from './names.js';
import { type Item, rowItem, storedRow } from './row-items.js';
import { ATTR, aliasTableDefinition, LIVE, META_PK, rowPk, viewTableDefinition } from './schema.js';

/**
 * The DynamoDB view store's limits: 2,500 row writes per commit (each is
 * one conditional call; the view builder's commits hold 1,000 by default,
 * 2,000 in a replay)
 * and values of up to 400,000 bytes of JSON (DynamoDB's 400 KB item, less
 * room for the key, the applied marks and the index keys; an item that
 * still does not fit is refused with `ROW_TOO_LARGE` naming its size).
 */
export const DYNAMO_VIEW_LIMITS: ViewStoreLimits = Object.freeze({ maxRowsPerCommit: 2_500, maxRowBytes: 400_000 });

/** Calls one store operation keeps under way at once when none is given. */
export const DEFAULT_MAX_IN_FLIGHT = 32;

/** Options of {@link dynamoViewStore}. */
export interface DynamoViewStoreOptions {
  /** Your configured client (region, credentials, endpoint). The store never destroys it. */
  readonly client: DynamoDBClient;
  /**
   * Starts the name of every DynamoDB table of this store: view tables are
   * `<prefix>view.<view table>` (`products@1` → `riverlog.view.products.v1`),
   * aliases live in `<prefix>aliases`. Default `riverlog.`.
   */
  readonly prefix?: string;
  /**
   * Create missing tables (on-demand capacity, waiting until active) and
   * delete a dropped view's table: for development. Default false: create
   * them from `viewTableDefinition` / `aliasTableDefinition` with your
   * infrastructure as code (`drop` then empties the table instead).
   */
  readonly createTables?: boolean;
  /** Most calls one operation (a commit's row writes, a read of many rows) has under way at once. Default 32. */
  readonly maxInFlight?: number;
  /** Backoff for throttling and 5xx errors, retried for as long as they last. Default core's: 50 ms doubling to 10 s. */
  readonly retry?: BackoffOptions;
}

const OPTION_NAMES = ['client', 'prefix', 'createTables', 'maxInFlight', 'retry'] as const;

/** A DynamoDB view store: the `ViewStore` port, and the view tables it holds. */
export interface DynamoViewStore extends ViewStore {
  /**
   * The view tables (e.g. `products@1`) this store's prefix holds, created
   * and not dropped, in name order: for tools such as the `riverlog`
   * command's `views list` and `status`. Needs `dynamodb:ListTables`.
   */
  tables(): Promise<string[]>;
}

/** What a view table's record holds. */
interface TableRecord {
  readonly indexes: readonly string[];
  readonly idWindow: number;
  readonly positions: PositionMap;
  readonly fences: Readonly<Record<string, number>>;
  readonly generation: string;
}

/** A row write as it will be sent: its key, the version it must find, the item. */
interface PlannedWrite {
  readonly key: string;
  readonly expected: number;
  readonly item: Item;
}

const errorName = (error: unknown): string | undefined => (error as { name?: string } | null)?.name;
const isConditionFailed = (error: unknown) => errorName(error) === 'ConditionalCheckFailedException';
const isMissingTable = (error: unknown) => errorName(error) === 'ResourceNotFoundException';
const ROW_ATTRIBUTES = { '#pk': ATTR.pk, '#v': ATTR.version, '#a': ATTR.applied, '#d': ATTR.value };
const META_KEY: Item = { [ATTR.pk]: { S: META_PK }, [ATTR.sk]: { N: '0' } };
const rowKey = (key: string): Item => ({ [ATTR.pk]: { S: rowPk(key) }, [ATTR.sk]: { N: '0' } });
/** Keys per BatchGetItem call (DynamoDB's limit). */
const BATCH_GET_MAX = 100;

/**
 * A view store in DynamoDB: one table per view table (a view version), its
 * declared indexes as global secondary indexes, rows written with
 * conditional `PutItem`s (a row's version guards it; no transactions), the
 * checkpoint and fences in one record item written last under a condition on
 * the fence, and the id window as chunk items. Reads the fold relies on
 * (`rows`, `get`, `positions`, `seen`) are strongly consistent; `list` finds
 * rows through an index, which DynamoDB keeps eventually consistent, and
 * reads their values strongly consistent. See the package README for the
 * table design, the IAM actions and what a commit does when it fails half-way.
 *
 * @example
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { dynamoViewStore } from '@riverlog/dynamodb';
 * import { openView, runView } from '@riverlog/view-builder';
 *
 * const store = dynamoViewStore({ client: new DynamoDBClient({ region: 'eu-west-1' }), prefix: 'retail.' });
 * const runner = runView(products, { log, store });
 * await openView(products, store).list({ index: 'byCategory', prefix: ['shoes'] });
 */
export function dynamoViewStore(options: DynamoViewStoreOptions): DynamoViewStore {
  const where = 'dynamoViewStore';
  checkOptions(where, options, OPTION_NAMES);
  const { client, createTables = false, maxInFlight = DEFAULT_MAX_IN_FLIGHT, retry } = options;
  if (client === null || typeof client !== 'object' || typeof (client as { send?: unknown }).send !== 'function') {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: client must be a DynamoDBClient (@aws-sdk/client-dynamodb), got ${typeof client}.`,
    );
  }
  const prefix = checkPrefix(where, options.prefix ?? DEFAULT_VIEW_PREFIX);
  if (typeof createTables !== 'boolean') {
    throw new RiverlogError('INVALID_OPTION', `${where}: createTables must be true or false, got ${JSON.stringify(createTables)}.`);
  }
  if (!(Number.isSafeInteger(maxInFlight) && maxInFlight >= 1 && maxInFlight <= 1_000)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: maxInFlight must be an integer from 1 to 1,000, got ${JSON.stringify(maxInFlight)}.`,
    );
  }
  if (retry !== undefined && (retry === null || typeof retry !== 'object')) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: retry must be backoff options ({ initialMs, maxMs, factor }), got ${String(retry)}.`,
    );
  }
  const policy: BackoffPolicy = retry === undefined ? defaultBackoff : backoffPolicy(retry);
  const limits = DYNAMO_VIEW_LIMITS;
  const windows = new Map<string, IdWindow>();
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new ClosedError('DynamoDB view store');
  };
  const send = <C extends object>(command: C, note?: { retried: boolean }) =>
    sendRetrying(client, command, {
      policy,
      onRetry: note
        ? () => {
            note.retried = true;
          }
        : undefined,
    });
  const dynamoTable = (table: string) => viewTableName(prefix, table);

  /** The table's record; `'no-table'` when its DynamoDB table does not exist, undefined when it exists without one. */
  async function readRecordOrAbsence(table: string): Promise<TableRecord | undefined | 'no-table'> {
    let item: Item | undefined;
    try {
      item = (await send(new GetItemCommand({ TableName: dynamoTable(table), Key: META_KEY, ConsistentRead: true }))).Item;
    } catch (error) {
      if (isMissingTable(error)) return 'no-table';
      throw error;
    }
    if (!item) return undefined;
    return {
      indexes: (item[ATTR.indexes]?.L ?? []).map((value) => value.S as string),
      idWindow: Number(item[ATTR.idWindow]?.N ?? 0),
      positions: Object.fromEntries(Object.entries(item[ATTR.checkpoint]?.M ?? {}).map(([p, v]) => [p, v.S as string])),
      fences: Object.fromEntries(Object.entries(item[ATTR.fences]?.M ?? {}).map(([p, v]) => [p, Number(v.N)])),
      generation: item[ATTR.generation]?.S ?? '',
    };
  }
  async function readRecord(table: string): Promise<TableRecord | undefined> {
    const found = await readRecordOrAbsence(table);
    return found === 'no-table' ? undefined : found;
  }

  /** The id window cache of a table, a new one when the table was created again since. */
  function windowOf(table: string, record: TableRecord): IdWindow {
    let window = windows.get(table);
    if (!window || window.generation !== record.generation || window.window !== record.idWindow) {
      window = new IdWindow(client, dynamoTable(table), table, record.idWindow, record.generation, policy);
      windows.set(table, window);
    }
    return window;
  }

  async function waitForTable(name: string, active: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: string | undefined;
      try {
        const out: DescribeTableCommandOutput = await send(new DescribeTableCommand({ TableName: name }));
        status = out.Table?.TableStatus;
      } catch (error) {
        if (!isMissingTable(error)) throw error;
      }
      if (active ? status === 'ACTIVE' : status === undefined) return;
      await sleep(Math.min(1_000, 20 * attempt));
    }
  }

  /** Creates a DynamoDB table from its definition (someone else creating it first is fine) and waits until it is active. */
  async function createDynamoTable(definition: ReturnType<typeof viewTableDefinition>): Promise<void> {
    try {
      await send(new CreateTableCommand(definition));
    } catch (error) {
      if (errorName(error) !== 'ResourceInUseException') throw error;
    }
    await waitForTable(definition.TableName as string, true);
  }

  /** A table made by infrastructure code must have the global secondary indexes the view declares. */
  async function checkDefinedTable(table: string, indexes: readonly string[]): Promise<void> {
    const out: DescribeTableCommandOutput = await send(new DescribeTableCommand({ TableName: dynamoTable(table) }));
    const found = new Set((out.Table?.GlobalSecondaryIndexes ?? []).map((gsi) => gsi.IndexName));
    const missing = [KEYS_INDEX, ...indexes.map((index) => indexName(table, index))].filter((name) => !found.has(name));
    if (missing.length > 0) {
      throw new RiverlogError(
        'INVALID_VIEW',
        `View table ${table}: DynamoDB table ${dynamoTable(table)} has no global secondary index ${missing.join(', ')}. Create it from viewTableDefinition(${JSON.stringify(table)}, { indexes: ${JSON.stringify(indexes)} }).`,
      );
    }
  }

  /**
   * Writes the planned rows, `maxInFlight` at once, each conditional on its
   * version; on a refused one no more are started and the conflict names
   * it. A refusal of a write whose earlier attempt landed (its answer lost,
   * then retried) is recognised by the row now holding exactly this write.
   */
  async function writeRows(table: string, planned: readonly PlannedWrite[]): Promise<void> {
    const TableName = dynamoTable(table);
    await eachLimited(planned, maxInFlight, async ({ key, expected, item }) => {
      try {
        await send(
          new PutItemCommand({
            TableName,
            Item: item,
            ...(expected === 0
              ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': ATTR.pk } }
              : {
                  ConditionExpression: '#v = :expected',
                  ExpressionAttributeNames: { '#v': ATTR.version },
                  ExpressionAttributeValues: { ':expected': { N: String(expected) } },
                }),
          }),
        );
      } catch (error) {
        if (isMissingTable(error)) throw unknownTable(table);
        if (!isConditionFailed(error)) throw error;
        const stored = (
          await send(
            new GetItemCommand({
              TableName,
              Key: rowKey(key),
              ConsistentRead: true,
              ProjectionExpression: '#v, #a, #d',
              ExpressionAttributeNames: { '#v': ATTR.version, '#a': ATTR.applied, '#d': ATTR.value },
            }),
          )
        ).Item;
        const found = Number(stored?.[ATTR.version]?.N ?? 0);
        // The version this write makes: expected + 1, or more when the commit wrote the key several times.
        const mine =
          found === Number(item[ATTR.version]?.N) &&
          stored?.[ATTR.applied]?.S === item[ATTR.applied]?.S &&
          stored?.[ATTR.value]?.S === item[ATTR.value]?.S;
        if (!mine) throw rowConflict(table, key, expected, found);
      }
    });
  }

  /**
   * Moves the checkpoint and records the fence in the table's record, on
   * the condition that no partition of the fence has a higher epoch there
   * and that the table is still the generation the commit was checked
   * against (not dropped and created again).
   */
  async function writeRecord(table: string, record: TableRecord, commit: ViewCommit): Promise<void> {
    const sets: string[] = [];
    const conditions = ['#gen = :gen'];
    const names: Record<string, string> = { '#gen': ATTR.generation };
    const values: Record<string, AttributeValue> = { ':gen': { S: record.generation } };
    let n = 0;
    for (const partition in commit.positions) {
      names[`#p${n}`] = partition;
      values[`:o${n}`] = { S: commit.positions[partition] as string };
      sets.push(`#c.#p${n} = :o${n}`);
      n++;
    }
    for (const partition in commit.fence ?? {}) {
      names[`#p${n}`] = partition;
      values[`:e${n}`] = { N: String(commit.fence?.[partition]) };
      sets.push(`#f.#p${n} = :e${n}`);
      conditions.push(`(attribute_not_exists(#f.#p${n}) OR #f.#p${n} <= :e${n})`);
      n++;
    }
    if (sets.length === 0) return;
    if (sets.some((set) => set.startsWith('#c'))) names['#c'] = ATTR.checkpoint;
    if (sets.some((set) => set.startsWith('#f'))) names['#f'] = ATTR.fences;
    try {
      await send(
        new UpdateItemCommand({
          TableName: dynamoTable(table),
          Key: META_KEY,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (isMissingTable(error)) throw unknownTable(table);
      if (!isConditionFailed(error)) throw error;
      const now = await readRecord(table);
      if (!now || now.generation !== record.generation) throw unknownTable(table);
      // A newer owner claimed a partition after the commit was checked: LEASE_LOST naming it.
      checkFence(`View table ${table}`, commit.fence, (partition) => now.fences[partition]);
      // Nothing stands against it now (its earlier attempt landed, its answer lost): write it again.
      await writeRecord(table, now, commit);
    }
  }

  /** Each key's one write (a key written twice must name the version its first write makes), with its item; throws before anything is sent. */
  function plan(table: string, commit: ViewCommit, checked: ReturnType<typeof checkCommit>): PlannedWrite[] {
    const byKey = new Map<string, { expected: number; version: number; last: number }>();
    commit.rows.forEach(({ key, expectedVersion }, i) => {
      const seen = byKey.get(key);
      if (seen === undefined) byKey.set(key, { expected: expectedVersion, version: expectedVersion + 1, last: i });
      else {
        if (seen.version !== expectedVersion) throw rowConflict(table, key, expectedVersion, seen.version);
        seen.version++;
        seen.last = i;
      }
    });
    const planned: PlannedWrite[] = [];
    for (const [key, { expected, version, last }] of byKey) {
      const write = commit.rows[last] as (typeof commit.rows)[number];
      planned.push({ key, expected, item: rowItem(table, write, version, checked.json[last], checked.sorts[last]) });
    }
    return planned;
  }

  /** Reads items by key, `BATCH_GET_MAX` per call and `maxInFlight` calls at once, retrying unprocessed keys; a missing table reads none. */
  async function batchGet(table: string, keys: readonly Item[], each: (item: Item) => void, extra?: string): Promise<void> {
    const TableName = dynamoTable(table);
    const ProjectionExpression = extra === undefined ? '#pk, #v, #a, #d' : '#pk, #v, #a, #d, #x';
    const ExpressionAttributeNames = extra === undefined ? ROW_ATTRIBUTES : { ...ROW_ATTRIBUTES, '#x': extra };
    const calls: Item[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) calls.push(keys.slice(i, i + BATCH_GET_MAX));
    try {
      await eachLimited(calls, maxInFlight, async (Keys) => {
        let pending: Item[] = Keys;
        for (let stalled = 0; pending.length > 0; ) {
          const out: BatchGetItemCommandOutput = await send(
            new BatchGetItemCommand({
              RequestItems: {
                [TableName]: { Keys: pending, ConsistentRead: true, ProjectionExpression, ExpressionAttributeNames },
              },
            }),
          );
          for (const item of out.Responses?.[TableName] ?? []) each(item);
          const left = out.UnprocessedKeys?.[TableName]?.Keys ?? [];
          if (left.length > 0) {
            stalled = left.length < pending.length ? 1 : stalled + 1;
            await sleep(policy.delay(stalled));
          }
          pending = left;
        }
      });
    } catch (error) {
      if (!isMissingTable(error)) throw error;
    }
  }

  /**
   * A page of entries of one index (or of `keys`): `{ pk, sort }` in index
   * order, at most `want`, within the prefix and after the cursor.
   */
  async function queryIndex(
    table: string,
    index: string,
    sortAttribute: string,
    q: { prefix: string; reverse: boolean; after: string | undefined },
    want: number,
  ): Promise<{ pk: string; sort: Uint8Array }[]> {
    const prefix = q.prefix === '' ? undefined : sortableBytes(q.prefix);
    const values: Record<string, AttributeValue> = { ':live': { S: LIVE } };
    let condition = '#g = :live';
    if (q.after !== undefined) {
      condition += q.reverse ? ' AND #s < :after' : ' AND #s > :after';
      values[':after'] = { B: sortableBytes(q.after) };
    } else if (prefix) {
      condition += ' AND begins_with(#s, :prefix)';
      values[':prefix'] = { B: prefix };
    }
    const entries: { pk: string; sort: Uint8Array }[] = [];
    let start: Item | undefined;
    do {
      const page: QueryCommandOutput = await send(
        new QueryCommand({
          TableName: dynamoTable(table),
          IndexName: index,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: condition.includes('#s') ? { '#g': ATTR.live, '#s': sortAttribute } : { '#g': ATTR.live },
          ExpressionAttributeValues: values,
          ScanIndexForward: !q.reverse,
          Limit: want - entries.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const sort = item[sortAttribute]?.B as Uint8Array;
        // After a cursor the query runs past the prefix: the first entry outside it ends the page.
        if (prefix && !startsWith(sort, prefix)) return entries;
        entries.push({ pk: item[ATTR.pk]?.S as string, sort });
      }
      start = page.LastEvaluatedKey;
    } while (start && entries.length < want);
    return entries;
  }

  async function aliasCall<T>(run: () => Promise<T>, missing: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!isMissingTable(error)) throw error;
      return missing();
    }
  }

  return {
    limits,

    async createTable(table, spec) {
      ensureOpen();
      checkTableSpec(table, spec);
      const definition = viewTableDefinition(table, { indexes: spec.indexes, prefix });
      for (;;) {
        const found = await readRecordOrAbsence(table);
        if (found !== undefined && found !== 'no-table') {
          checkSameTable(table, found, spec);
          return;
        }
        if (found === 'no-table') {
          if (!createTables) {
            throw new RiverlogError(
              'STORE_OPEN_FAILED',
              `View table ${table}: DynamoDB table ${definition.TableName} does not exist. Create it from viewTableDefinition(${JSON.stringify(table)}, { indexes: ${JSON.stringify(spec.indexes)} }) (see @riverlog/dynamodb's README), or pass createTables: true in development.`,
            );
          }
          await createDynamoTable(definition);
        } else {
          await checkDefinedTable(table, spec.indexes);
        }
        try {
          await send(
            new PutItemCommand({
              TableName: definition.TableName,
              Item: {
                ...META_KEY,
                [ATTR.indexes]: { L: spec.indexes.map((index) => ({ S: index })) },
                [ATTR.idWindow]: { N: String(spec.idWindow) },
                [ATTR.checkpoint]: { M: {} },
                [ATTR.fences]: { M: {} },
                [ATTR.generation]: { S: ulid() },
              },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': ATTR.pk },
            }),
          );
          windows.delete(table);
          return;
        } catch (error) {
          // Another process wrote the record first (loop: compare with it), or the table went meanwhile (loop: create it).
          if (!isConditionFailed(error) && !isMissingTable(error)) throw error;
        }
      }
    },

    async get(table, key) {
      ensureOpen();
      try {
        const out = await send(
          new GetItemCommand({
            TableName: dynamoTable(table),
            Key: rowKey(key),
            ConsistentRead: true,
            ProjectionExpression: '#d',
            ExpressionAttributeNames: { '#d': ATTR.value },
          }),
        );
        const json = out.Item?.[ATTR.value]?.S;
        return json === undefined ? undefined : JSON.parse(json);
      } catch (error) {
        if (isMissingTable(error)) return undefined;
        throw error;
      }
    },

    async rows(table, keys) {
      ensureOpen();
      const found = new Map<string, StoredRow>();
      const distinct = [...new Set(keys)];
      await batchGet(table, distinct.map(rowKey), (item) => {
        const row = storedRow(item);
        found.set(row.key, row);
      });
      return found;
    },

    async list(table, query): Promise<ViewPage> {
      ensureOpen();
      const record = await readRecord(table);
      if (!record) return { rows: [] };
      const q = checkQuery(table, query, record.indexes);
      const index = q.index === undefined ? KEYS_INDEX : indexName(table, q.index);
      const sortAttribute = q.index === undefined ? ATTR.key : index;
      const entries = await queryIndex(table, index, sortAttribute, q, q.limit + 1);
      const page = entries.slice(0, q.limit);
      // The index is eventually consistent: each row is read (strongly) and kept only if it is live and still sorts where the entry says.
      const items = new Map<string, Item>();
      await batchGet(
        table,
        page.map((entry) => ({ [ATTR.pk]: { S: entry.pk }, [ATTR.sk]: { N: '0' } })),
        (item) => items.set(item[ATTR.pk]?.S as string, item),
        q.index === undefined ? undefined : index,
      );
      const rows: ViewRow[] = [];
      for (const entry of page) {
        const item = items.get(entry.pk);
        const json = item?.[ATTR.value]?.S;
        if (json === undefined) continue;
        const sort = q.index === undefined ? undefined : item?.[index]?.B;
        if (q.index !== undefined && (sort === undefined || Buffer.compare(sort, entry.sort) !== 0)) continue;
        rows.push({ key: entry.pk.slice(2), value: JSON.parse(json) });
      }
      const last = page[page.length - 1];
      if (entries.length <= q.limit || !last) return { rows };
      return { rows, cursor: encodeCursor(fromSortableBytes(last.sort)) };
    },

    async positions(table) {
      ensureOpen();
      return { ...(await readRecord(table))?.positions };
    },

    async seen(table, ids) {
      ensureOpen();
      const found = new Set<string>();
      if (ids.length === 0) return found;
      const record = await readRecord(table);
      if (!record || record.idWindow === 0) return found;
      const window = windowOf(table, record);
      await window.refresh();
      for (const id of ids) if (window.has(id)) found.add(id);
      return found;
    },

    async commit(table, commit) {
      ensureOpen();
      const cached = windows.get(table);
      const hasIds = Array.isArray(commit?.ids) && commit.ids.length > 0;
      // The table's record and the ids written since this process last looked, read at once.
      const refreshing = hasIds && cached ? cached.refresh().then(() => cached) : undefined;
      const [record] = await Promise.all([readRecord(table), refreshing?.catch(() => undefined)]);
      if (!record) throw unknownTable(table);
      const checked = checkCommit(table, commit, limits, record.indexes);
      checkFence(`View table ${table}`, commit.fence, (partition) => record.fences[partition]);
      const planned = plan(table, commit, checked);
      let window: IdWindow | undefined;
      if (record.idWindow > 0 && commit.ids.length > 0) {
        const fresh = new Set<string>();
        for (const id of commit.ids) {
          if (fresh.has(id)) throw idConflict(table, id);
          fresh.add(id);
        }
        window = windowOf(table, record);
        if (window !== (await refreshing?.catch(() => undefined))) await window.refresh();
        const again = commit.ids.find((id) => window?.has(id));
        if (again !== undefined) throw idConflict(table, again);
      }
      // No transactions: the rows (each guarded), then the ids, then the checkpoint under the fence.
      await writeRows(table, planned);
      if (window) await window.remember(commit.ids);
      await writeRecord(table, record, commit);
      await window?.prune();
    },

    async alias(name) {
      ensureOpen();
      return aliasCall(
        async () =>
          (await send(new GetItemCommand({ TableName: aliasTableName(prefix), Key: { [ATTR.pk]: { S: name } }, ConsistentRead: true })))
            .Item?.t?.S,
        async () => undefined,
      );
    },

    async setAlias(name, table, expected) {
      ensureOpen();
      if (typeof table !== 'string' || table === '') {
        throw new RiverlogError('INVALID_OPTION', `setAlias(${JSON.stringify(name)}): the table must be a non-empty string.`);
      }
      const put = async (): Promise<boolean> => {
        const note = { retried: false };
        try {
          await send(
            new PutItemCommand({
              TableName: aliasTableName(prefix),
              Item: { [ATTR.pk]: { S: name }, t: { S: table } },
              ...(expected === undefined
                ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': ATTR.pk } }
                : {
                    ConditionExpression: '#t = :expected',
                    ExpressionAttributeNames: { '#t': 't' },
                    ExpressionAttributeValues: { ':expected': { S: expected } },
                  }),
            }),
            note,
          );
          return true;
        } catch (error) {
          if (!isConditionFailed(error)) throw error;
          // A retried call whose first attempt switched the alias (its answer lost) finds it pointing at `table`.
          if (!note.retried) return false;
          const now = await send(
            new GetItemCommand({ TableName: aliasTableName(prefix), Key: { [ATTR.pk]: { S: name } }, ConsistentRead: true }),
          );
          return now.Item?.t?.S === table;
        }
      };
      return aliasCall(put, async () => {
        if (!createTables) {
          throw new RiverlogError(
            'STORE_OPEN_FAILED',
            `setAlias(${JSON.stringify(name)}): DynamoDB table ${aliasTableName(prefix)} does not exist. Create it from aliasTableDefinition(${JSON.stringify(prefix)}) (see @riverlog/dynamodb's README), or pass createTables: true in development.`,
          );
        }
        await createDynamoTable(aliasTableDefinition(prefix));
        return put();
      });
    },

    async drop(table) {
      ensureOpen();
      windows.delete(table);
      const TableName = dynamoTable(table);
      try {
        // The record first: from here on the table counts as gone (commits are refused), whatever is left to delete.
        await send(new DeleteItemCommand({ TableName, Key: META_KEY }));
      } catch (error) {
        if (isMissingTable(error)) return;
        throw error;
      }
      if (createTables) {
        for (let attempt = 1; ; attempt++) {
          try {
            await send(new DeleteTableCommand({ TableName }));
            break;
          } catch (error) {
            if (isMissingTable(error)) break;
            // Still being created or updated: wait, then delete.
            if (errorName(error) !== 'ResourceInUseException') throw error;
            await sleep(Math.min(1_000, 20 * attempt));
          }
        }
        await waitForTable(TableName, false);
        return;
      }
      // A table owned by infrastructure code is emptied, not deleted.
      let start: Item | undefined;
      do {
        const page: ScanCommandOutput = await send(
          new ScanCommand({
            TableName,
            ProjectionExpression: '#pk, #sk',
            ExpressionAttributeNames: { '#pk': ATTR.pk, '#sk': ATTR.sk },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        const keys = page.Items ?? [];
        if (keys.length > 0) {
          await batchWriteAll(client, { [TableName]: keys.map((Key) => ({ DeleteRequest: { Key } })) }, { policy, concurrency: 4 });
        }
        start = page.LastEvaluatedKey;
      } while (start);
    },

    async tables() {
      ensureOpen();
      const start = `${prefix}view.`;
      const found: string[] = [];
      let last: string | undefined;
      do {
        const page: ListTablesCommandOutput = await send(
          new ListTablesCommand(last === undefined ? {} : { ExclusiveStartTableName: last }),
        );
        for (const name of page.TableNames ?? []) {
          const table = name.startsWith(start) ? fromDynamoName(name.slice(start.length)) : undefined;
          if (table !== undefined) found.push(table);
        }
        last = page.LastEvaluatedTableName;
      } while (last !== undefined);
      // A table made by infrastructure code but never created by a view, or dropped (emptied), has no record.
      const created = new Set<string>();
      await eachLimited(found, maxInFlight, async (table) => {
        const record = await readRecordOrAbsence(table);
        if (record !== undefined && record !== 'no-table') created.add(table);
      });
      return found.filter((table) => created.has(table)).sort();
    },

    async close() {
      closed = true;
      windows.clear();
    },
  };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
