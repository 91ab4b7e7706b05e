import { type CheckpointStore, type DeadLetter, type DeadLetterSink, RiverlogError, type ViewStore } from '@riverlog/core';
import { dynamoCheckpointStoreFromUri, dynamoDeadLettersFromUri, dynamoViewStoreFromUri } from '@riverlog/dynamodb';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteViewStore } from '@riverlog/sqlite';

/** The store URI schemes `openStores` understands, for messages. */
export const STORE_SCHEMES = ['sqlite:<path>', 'dynamodb://<host:port>?prefix=<p>', 'dynamodb:?region=<r>&prefix=<p>'] as const;

/** Where the example keeps its views, checkpoints and dead letters. */
export interface RetailStores {
  /** Where they live, for messages. */
  readonly uri: string;
  readonly store: ViewStore;
  readonly checkpoints: CheckpointStore;
  readonly deadLetters: DeadLetterSink & { list(): Promise<DeadLetter[]>; close(): Promise<void> };
  close(): Promise<void>;
}

/**
 * Opens the stores a URI names:
 *
 * - `sqlite:<path>` — views, checkpoints and dead letters in one SQLite file;
 * - `dynamodb://<host:port>?prefix=<p>` — in a local DynamoDB-compatible
 *   server (dynalite): views in `<p>view.<view>.v<version>`, aliases in
 *   `<p>aliases`, checkpoints and dead letters in `<p>state`;
 * - `dynamodb:?region=<r>&prefix=<p>` — the same tables in AWS, with the
 *   SDK's default credentials.
 *
 * `dynamodb:` URIs are read by @riverlog/dynamodb's URI functions
 * (`dynamoOptionsFromUri` documents the parameters). The example creates
 * missing tables (it plays a day on fresh ones) unless the URI says
 * `createTables=false`.
 *
 * @example
 * const stores = openStores(process.env.RIVERLOG_STORE ?? 'sqlite:views.db');
 */
export function openStores(uri: string): RetailStores {
  if (uri.startsWith('sqlite:')) {
    const path = decodeURIComponent(uri.slice('sqlite:'.length));
    if (path === '') throw invalid(uri, 'sqlite: needs a file path, e.g. sqlite:data/views.db');
    const options = { path };
    const store = sqliteViewStore(options);
    const checkpoints = sqliteCheckpointStore(options);
    const deadLetters = sqliteDeadLetters(options);
    return { uri, store, checkpoints, deadLetters, close: closeAll(store, checkpoints, deadLetters) };
  }
  if (uri.startsWith('dynamodb:')) {
    const own = withCreateTables(uri);
    const store = dynamoViewStoreFromUri(own);
    const checkpoints = dynamoCheckpointStoreFromUri(own);
    const deadLetters = dynamoDeadLettersFromUri(own);
    return { uri, store, checkpoints, deadLetters, close: closeAll(store, checkpoints, deadLetters) };
  }
  throw invalid(uri, 'unknown scheme');
}

/** The URI with `createTables=true` added, unless it sets `createTables` itself. */
export function withCreateTables(uri: string): string {
  if (/[?&]createTables=/.test(uri)) return uri;
  return `${uri}${uri.includes('?') ? '&' : '?'}createTables=true`;
}

function closeAll(...stores: { close(): Promise<void> }[]): () => Promise<void> {
  return async () => {
    await Promise.all(stores.map((store) => store.close()));
  };
}

function invalid(uri: string, reason: string): RiverlogError {
  return new RiverlogError(
    'INVALID_OPTION',
    `Cannot open stores ${JSON.stringify(uri)}: ${reason}. Use one of ${STORE_SCHEMES.join(', ')}.`,
  );
}
