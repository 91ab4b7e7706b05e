import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type CheckpointStore, type DeadLetter, type DeadLetterSink, RiverlogError, type ViewStore } from '@riverlog/core';
import { dynamoCheckpointStore, dynamoDeadLetters, dynamoViewStore, localDynamoClient } from '@riverlog/dynamodb';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteViewStore } from '@riverlog/sqlite';

/** The store URI schemes `openStores` understands, for messages. */
export const STORE_SCHEMES = ['sqlite:<path>', 'dynamodb://<host:port>?prefix=<p>', 'dynamodb:?prefix=<p>'] as const;

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
 *   server (dynalite), tables created on first use: views in
 *   `<p>view.<view>.v<version>`, aliases in `<p>aliases`, checkpoints and
 *   dead letters in `<p>state`;
 * - `dynamodb:?prefix=<p>` — the same in AWS, with the SDK's own
 *   configuration (region, credentials from the environment).
 *
 * `prefix` defaults to `hello-retail.`.
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
    const [rest = '', query = ''] = uri.slice('dynamodb:'.length).split('?', 2);
    const prefix = new URLSearchParams(query).get('prefix') ?? 'hello-retail.';
    const host = rest.replace(/^\/\//, '').replace(/\/$/, '');
    const client = host === '' ? new DynamoDBClient({}) : localDynamoClient(`http://${host}`);
    const state = { client, table: `${prefix}state`, createTable: true };
    const store = dynamoViewStore({ client, prefix, createTables: true });
    const checkpoints = dynamoCheckpointStore(state);
    const deadLetters = dynamoDeadLetters(state);
    const close = closeAll(store, checkpoints, deadLetters);
    return {
      uri,
      store,
      checkpoints,
      deadLetters,
      async close() {
        await close();
        client.destroy();
      },
    };
  }
  throw invalid(uri, 'unknown scheme');
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
