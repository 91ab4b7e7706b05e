import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { CheckpointStore, DeadLetter, DeadLetterSink, EventLog, LeaseStore, Position, ViewStore } from '@riverlog/core';
import { RiverlogError } from '@riverlog/core';
import { UsageError } from './errors.js';

// Addresses: a log or a store named by a URI. `sqlite:` and `kafka://` are
// built in; `kinesis://` and `dynamodb://` are opened by their packages'
// URI functions, imported only when such a URI is used.

/** The URI forms this command understands, for messages. */
export const LOG_URIS = 'sqlite:<path>, kafka://<host:port>/<topic>, kinesis://<stream>';
export const STORE_URIS = 'sqlite:<path>, dynamodb://<host:port>?prefix=<p>, dynamodb:?region=<r>&prefix=<p>';

/** A dead-letter store the `dead-letters` command can read and tidy: the sink, a listing, and removal. */
export interface DeadLetterStore extends DeadLetterSink {
  list(group?: string): Promise<DeadLetter[]>;
  /** Absent where the backend cannot remove letters (then `purge` and `retry` say so). */
  remove?(group: string, positions: readonly Position[]): Promise<number>;
  close(): Promise<void>;
}

/** A view store that can name its tables (SQLite can), for `views list` and `status`. */
export interface ListableViewStore extends ViewStore {
  tables?(): Promise<string[]>;
}

interface Parsed {
  readonly scheme: string;
  readonly rest: string;
  readonly params: URLSearchParams;
}

function parse(uri: string, what: string, forms: string): Parsed {
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(uri);
  if (!match) throw new UsageError(`${what} ${JSON.stringify(uri)} is not a URI; use one of ${forms}.`);
  const [rest = '', query = ''] = (match[2] as string).split('?', 2);
  return { scheme: (match[1] as string).toLowerCase(), rest, params: new URLSearchParams(query) };
}

/** The file of a `sqlite:` URI: `sqlite:./x.db`, `sqlite:x.db`, `sqlite:/abs/x.db`, `sqlite:///abs/x.db`, relative to `base`. */
export function sqlitePath(uri: string, base: string): string {
  const { rest } = parse(uri, 'SQLite address', 'sqlite:<path>');
  const path = decodeURIComponent(rest.replace(/^\/\/(?=\/)/, ''));
  if (path === '') throw new UsageError(`SQLite address ${JSON.stringify(uri)} names no file; e.g. sqlite:./retail.db.`);
  return isAbsolute(path) ? path : resolve(base, path);
}

/** Makes a relative `sqlite:` URI absolute against `base` (a config file's directory); other URIs are returned as they are. */
export function absoluteUri(uri: string, base: string): string {
  return /^sqlite:/i.test(uri) && !/^sqlite::memory:/i.test(uri) ? `sqlite:${sqlitePath(uri, base)}` : uri;
}

function positiveInt(uri: string, params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`${uri}: ${name} must be a whole number ≥ 1, got ${JSON.stringify(text)}.`);
  return Number(text);
}

/** Imports an optional package's URI function, or says clearly why it is not there. */
async function uriFunction(pkg: string, names: readonly string[], uri: string): Promise<(uri: string) => unknown> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pkg)) as Record<string, unknown>;
  } catch (error) {
    throw new RiverlogError(
      'MISSING_DEPENDENCY',
      `${uri}: opening it needs ${pkg}, which could not be loaded (${(error as Error).message}); install it.`,
    );
  }
  for (const name of names) {
    if (typeof module[name] === 'function') return module[name] as (uri: string) => unknown;
  }
  throw new RiverlogError(
    'UNSUPPORTED',
    `${uri}: this install's ${pkg} does not export ${names.join(' or ')} yet, so riverlog cannot open it by URI; update ${pkg}.`,
  );
}

/**
 * Opens the log a URI names. A `sqlite:` file must exist unless `create` is
 * set (only `import` creates one): a mistyped path is an error, not a new
 * empty log. `memory:` is refused: a log in this process is gone when it ends.
 *
 * @example
 * const log = await openLogUri('sqlite:./retail.db', process.cwd());
 */
export async function openLogUri(uri: string, base: string, options: { readonly create?: boolean } = {}): Promise<EventLog> {
  const { scheme, params } = parse(uri, 'Log address', LOG_URIS);
  switch (scheme) {
    case 'sqlite': {
      const path = sqlitePath(uri, base);
      if (!options.create && !existsSync(path)) {
        throw new RiverlogError('LOG_OPEN_FAILED', `No log at ${path} (from ${uri}): check the path; only import creates a log.`);
      }
      const partitions = positiveInt(uri, params, 'partitions');
      const { sqliteLog } = await import('@riverlog/sqlite');
      return sqliteLog(partitions === undefined ? { path } : { path, partitions });
    }
    case 'kafka': {
      const { kafkaLogFromUri, kafkaOptionsFromUri } = await import('@riverlog/kafka');
      if (options.create) return kafkaLogFromUri(uri);
      const reading = withoutCreate(uri);
      const { brokers, topic } = kafkaOptionsFromUri(reading);
      const { assertKafkaTopic } = await import('./kafka-admin.js');
      await assertKafkaTopic([brokers ?? []].flat() as string[], topic);
      return kafkaLogFromUri(reading);
    }
    case 'kinesis':
      return (await uriFunction('@riverlog/kinesis', ['kinesisLogFromUri'], uri))(uri) as EventLog;
    case 'memory':
      throw new UsageError(
        `${uri}: a memory log lives inside one process, so another process (this command) cannot see it; use sqlite:<path> or kafka://<host:port>/<topic>.`,
      );
    default:
      throw new UsageError(`Log address ${JSON.stringify(uri)}: unknown scheme ${JSON.stringify(`${scheme}:`)}; use one of ${LOG_URIS}.`);
  }
}

/** Reading commands never create a Kafka topic: a mistyped topic is an error. */
function withoutCreate(uri: string): string {
  if (/[?&]create=/.test(uri)) return uri;
  return `${uri}${uri.includes('?') ? '&' : '?'}create=false`;
}

type StoreKind = 'view store' | 'checkpoint store' | 'dead-letter store' | 'lease store';

const DYNAMO_NAMES: Record<StoreKind, readonly string[]> = {
  'view store': ['dynamoViewStoreFromUri'],
  'checkpoint store': ['dynamoCheckpointStoreFromUri'],
  'dead-letter store': ['dynamoDeadLettersFromUri'],
  'lease store': ['dynamoLeaseStoreFromUri'],
};

/** How a store is opened: a missing `sqlite:` file is created only with `create` (commands that write). */
export interface OpenStoreOptions {
  readonly create?: boolean;
}

async function openStore(uri: string, base: string, kind: StoreKind, options: OpenStoreOptions): Promise<unknown> {
  const { scheme } = parse(uri, `The ${kind} address`, STORE_URIS);
  switch (scheme) {
    case 'sqlite': {
      const path = sqlitePath(uri, base);
      if (!options.create && !existsSync(path)) {
        throw new RiverlogError(
          'STORE_OPEN_FAILED',
          `No ${kind} at ${path} (from ${uri}): check the path; only commands that write (replay, views rebuild, lambda) create one.`,
        );
      }
      const sqlite = await import('@riverlog/sqlite');
      if (kind === 'view store') return sqlite.sqliteViewStore({ path });
      if (kind === 'checkpoint store') return sqlite.sqliteCheckpointStore({ path });
      if (kind === 'dead-letter store') return sqlite.sqliteDeadLetters({ path });
      return sqlite.sqliteLeaseStore({ path });
    }
    case 'dynamodb':
      return (await uriFunction('@riverlog/dynamodb', DYNAMO_NAMES[kind], uri))(uri);
    case 'memory':
      throw new UsageError(`${uri}: a memory ${kind} lives inside one process, so this command cannot see it; use ${STORE_URIS}.`);
    default:
      throw new UsageError(
        `The ${kind} address ${JSON.stringify(uri)}: unknown scheme ${JSON.stringify(`${scheme}:`)}; use one of ${STORE_URIS}.`,
      );
  }
}

/**
 * Opens a view store by URI (`sqlite:./views.db`, `dynamodb://…`). A `sqlite:` file must exist unless `create` is set.
 *
 * @example
 * const store = await openViewStoreUri('sqlite:./views.db', process.cwd(), { create: true });
 */
export const openViewStoreUri = (uri: string, base: string, options: OpenStoreOptions = {}) =>
  openStore(uri, base, 'view store', options) as Promise<ListableViewStore>;
/** Opens a checkpoint store by URI (a `sqlite:` file must exist unless `create` is set). */
export const openCheckpointsUri = (uri: string, base: string, options: OpenStoreOptions = {}) =>
  openStore(uri, base, 'checkpoint store', options) as Promise<CheckpointStore>;
/** Opens a lease store by URI (a `sqlite:` file must exist unless `create` is set). */
export const openLeasesUri = (uri: string, base: string, options: OpenStoreOptions = {}) =>
  openStore(uri, base, 'lease store', options) as Promise<LeaseStore>;
/** Opens a dead-letter store by URI; it must be able to list its letters (a `sqlite:` file must exist unless `create` is set). */
export async function openDeadLettersUri(uri: string, base: string, options: OpenStoreOptions = {}): Promise<DeadLetterStore> {
  const store = (await openStore(uri, base, 'dead-letter store', options)) as Partial<DeadLetterStore>;
  if (typeof store.list !== 'function') {
    throw new RiverlogError('UNSUPPORTED', `The dead-letter store ${uri} cannot list its letters, so riverlog cannot show them.`);
  }
  return store as DeadLetterStore;
}
