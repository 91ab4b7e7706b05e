// What every DynamoDB test file shares: the endpoint of this run, a client on
// it, unique table names, a skip rule.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ulid } from '@riverlog/core';
import { localDynamoClient } from '@riverlog/dynamodb';
import { describe, inject } from 'vitest';

const provided = inject('dynamodb');

/** The DynamoDB endpoint of this run (dynalite, or RIVERLOG_DYNAMODB_ENDPOINT), or undefined when the tests skip. */
export const endpoint: string | undefined = provided.endpoint;

/** `describe` when an endpoint is available, else `describe.skip` (the reason is printed once per file). */
export const describeDynamo: typeof describe = endpoint ? describe : (describe.skip as typeof describe);
if (!endpoint) console.warn(`DynamoDB tests skip: ${provided.reason}`);

/** A client on this run's endpoint (dummy credentials and region). */
export function dynamoClient(): DynamoDBClient {
  if (!endpoint) throw new Error('no DynamoDB endpoint in this run');
  return localDynamoClient(endpoint);
}

/** A table name no other test uses (DynamoDB names: 3–255 of [A-Za-z0-9_.-]). */
export function uniqueTable(what: string): string {
  return `riverlog-test-${what}-${ulid().toLowerCase()}`;
}
