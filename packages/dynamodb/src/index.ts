/**
 * `@riverlog/dynamodb`: riverlog's stores in DynamoDB, each taking your
 * configured `DynamoDBClient` (@aws-sdk/client-dynamodb).
 *
 * @example
 * import { localDynamoClient } from '@riverlog/dynamodb';
 * const client = localDynamoClient('http://127.0.0.1:4567');
 */
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
