import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type CheckpointStore, type LeaseStore, RiverlogError } from '@riverlog/core';
import { closestName } from '@riverlog/core/backend';
import { dynamoCheckpointStore } from './checkpoint-store.js';
import { localDynamoClient } from './client.js';
import { type DynamoDeadLetters, dynamoDeadLetters } from './dead-letters.js';
import { dynamoLeaseStore } from './lease-store.js';
import { checkPrefix, DEFAULT_VIEW_PREFIX } from './view-store/names.js';
import { type DynamoViewStore, dynamoViewStore } from './view-store/view-store.js';

const EXPECTED =
  'Expected dynamodb://<host:port>[?prefix=…&table=…&region=…&createTables=true] for a local DynamoDB-compatible server, or dynamodb:[?region=…&prefix=…&table=…] for AWS';

const PARAMS = ['prefix', 'table', 'region', 'createTables'] as const;

/** What a `dynamodb:` URI says: see {@link dynamoOptionsFromUri}. */
export interface DynamoUriOptions {
  /** `http://<host:port>` of a local server, absent for AWS. */
  readonly endpoint?: string;
  /** Absent: the SDK's default region (AWS_REGION, the shared config file). */
  readonly region?: string;
  /** The view store's table prefix. */
  readonly prefix: string;
  /** The checkpoint, lease and dead-letter stores' table. */
  readonly table: string;
  readonly createTables: boolean;
}

/**
 * Parses a DynamoDB store URI:
 *
 * - `dynamodb://<host:port>[?…]` — a local DynamoDB-compatible server
 *   (dynalite) at `http://<host:port>`, with dummy credentials;
 * - `dynamodb:[?…]` (or `dynamodb://?…`) — AWS, with the SDK's default
 *   region (or `region`) and default credential chain (environment, shared
 *   files, SSO, the Lambda or ECS role, instance metadata).
 *
 * Parameters: `prefix` starts every table name (default `riverlog.`: view
 * tables `<prefix>view.<name>.v<version>`, aliases `<prefix>aliases`);
 * `table` is the state table of checkpoints, leases and dead letters
 * (default `<prefix>state`); `region`; `createTables=true` creates missing
 * tables (development).
 *
 * @example
 * dynamoOptionsFromUri('dynamodb://127.0.0.1:4567?prefix=retail.');
 * // { endpoint: 'http://127.0.0.1:4567', prefix: 'retail.', table: 'retail.state', createTables: false }
 */
export function dynamoOptionsFromUri(uri: string): DynamoUriOptions {
  if (typeof uri !== 'string') throw invalid(String(uri), 'it is not a string');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme === undefined) throw invalid(uri, 'it is not a URI');
  if (scheme.toLowerCase() !== 'dynamodb') throw invalid(uri, `the scheme is ${JSON.stringify(`${scheme}:`)}, not "dynamodb:"`);
  const parts = /^dynamodb:(?:\/\/([^/?#]*)\/?)?(?:\?([^#]*))?$/i.exec(uri);
  if (!parts) throw invalid(uri, 'it has a path or a fragment');
  const host = parts[1] ?? '';
  if (host !== '' && !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) {
    throw invalid(uri, `${JSON.stringify(host)} is not a host[:port]`);
  }
  const params = new URLSearchParams(parts[2] ?? '');
  for (const name of params.keys()) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      const near = closestName(name, PARAMS);
      throw invalid(uri, `unknown parameter ${JSON.stringify(name)}${near ? ` (did you mean "${near}"?)` : ''}`);
    }
  }
  const prefixText = params.get('prefix') ?? DEFAULT_VIEW_PREFIX;
  let prefix: string;
  try {
    prefix = checkPrefix('prefix', prefixText);
  } catch {
    throw invalid(uri, `prefix must be up to 200 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(prefixText)}`);
  }
  const table = params.get('table') ?? `${prefix}state`;
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw invalid(uri, `table must be a DynamoDB table name (3–255 of A-Z a-z 0-9 _ . -), got ${JSON.stringify(table)}`);
  }
  const createTablesText = params.get('createTables') ?? 'false';
  if (createTablesText !== 'true' && createTablesText !== 'false') {
    throw invalid(uri, `createTables must be true or false, got ${JSON.stringify(createTablesText)}`);
  }
  const region = params.get('region') ?? undefined;
  if (region === '') throw invalid(uri, 'region is empty');
  return {
    ...(host !== '' ? { endpoint: `http://${host}` } : {}),
    ...(region !== undefined ? { region } : {}),
    prefix,
    table,
    createTables: createTablesText === 'true',
  };
}

/** A client for the URI's endpoint or AWS region, owned by the store made with it. */
function clientOf(options: DynamoUriOptions): DynamoDBClient {
  if (options.endpoint !== undefined) {
    return localDynamoClient(options.endpoint, options.region === undefined ? {} : { region: options.region });
  }
  return new DynamoDBClient(options.region === undefined ? {} : { region: options.region });
}

/** The store's `close()` also destroys the client it was made with (its sockets would keep a process alive). */
function owningClient<S extends { close(): Promise<void> }>(store: S, client: DynamoDBClient): S {
  const close = store.close;
  store.close = async () => {
    try {
      await close.call(store);
    } finally {
      client.destroy();
    }
  };
  return store;
}

/**
 * A view store from a URI (see {@link dynamoOptionsFromUri}), with its own
 * client, destroyed by `close()`.
 *
 * @example
 * const store = dynamoViewStoreFromUri('dynamodb:?region=eu-west-1&prefix=retail.');
 */
export function dynamoViewStoreFromUri(uri: string): DynamoViewStore {
  const options = dynamoOptionsFromUri(uri);
  const client = clientOf(options);
  return owningClient(dynamoViewStore({ client, prefix: options.prefix, createTables: options.createTables }), client);
}

/**
 * A checkpoint store from a URI (see {@link dynamoOptionsFromUri}) in its
 * `table`, with its own client, destroyed by `close()`.
 *
 * @example
 * const checkpoints = dynamoCheckpointStoreFromUri('dynamodb://127.0.0.1:4567?prefix=dev.&createTables=true');
 */
export function dynamoCheckpointStoreFromUri(uri: string): CheckpointStore {
  const options = dynamoOptionsFromUri(uri);
  const client = clientOf(options);
  return owningClient(dynamoCheckpointStore({ client, table: options.table, createTables: options.createTables }), client);
}

/**
 * A lease store from a URI (see {@link dynamoOptionsFromUri}) in its
 * `table`, with its own client, destroyed by `close()`.
 *
 * @example
 * const leases = dynamoLeaseStoreFromUri('dynamodb:?region=eu-west-1');
 */
export function dynamoLeaseStoreFromUri(uri: string): LeaseStore {
  const options = dynamoOptionsFromUri(uri);
  const client = clientOf(options);
  return owningClient(dynamoLeaseStore({ client, table: options.table, createTables: options.createTables }), client);
}

/**
 * A dead-letter store from a URI (see {@link dynamoOptionsFromUri}) in its
 * `table`, with its own client, destroyed by `close()`.
 *
 * @example
 * const deadLetters = dynamoDeadLettersFromUri('dynamodb:?region=eu-west-1');
 * await deadLetters.list('emailer');
 */
export function dynamoDeadLettersFromUri(uri: string): DynamoDeadLetters {
  const options = dynamoOptionsFromUri(uri);
  const client = clientOf(options);
  return owningClient(dynamoDeadLetters({ client, table: options.table, createTables: options.createTables }), client);
}

function invalid(uri: string, reason: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `Invalid DynamoDB store URI ${JSON.stringify(uri)}: ${reason}. ${EXPECTED}.`);
}
