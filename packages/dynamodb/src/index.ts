/**
 * `@riverlog/dynamodb`: riverlog's stores in DynamoDB, each taking your
 * configured `DynamoDBClient` (@aws-sdk/client-dynamodb).
 *
 * @example
 * import { localDynamoClient } from '@riverlog/dynamodb';
 * const client = localDynamoClient('http://127.0.0.1:4567');
 */

export { dynamoCheckpointStore } from './checkpoint-store.js';
export {
  BATCH_WRITE_MAX,
  type BatchWriteOptions,
  batchWriteAll,
  type CommandOutput,
  type DynamoRetryOptions,
  isRetryableDynamoError,
  localDynamoClient,
  sendRetrying,
} from './client.js';
export { type DynamoDeadLetters, dynamoDeadLetters } from './dead-letters.js';
export { dynamoLeaseStore } from './lease-store.js';
export { DEFAULT_STATE_TABLE, type DynamoStateStoreOptions, stateTableDefinition } from './state-table.js';
export {
  type DynamoUriOptions,
  dynamoCheckpointStoreFromUri,
  dynamoDeadLettersFromUri,
  dynamoLeaseStoreFromUri,
  dynamoOptionsFromUri,
  dynamoViewStoreFromUri,
} from './uri.js';
export * from './view-store/index.js';
