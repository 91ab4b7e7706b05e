export { aliasTableName, DEFAULT_VIEW_PREFIX, dynamoName, fromDynamoName, viewTableName } from './names.js';
export { aliasTableDefinition, type ViewTableDefinitionOptions, viewTableDefinition } from './schema.js';
export {
  DEFAULT_MAX_IN_FLIGHT,
  DYNAMO_VIEW_LIMITS,
  type DynamoViewStore,
  type DynamoViewStoreOptions,
  dynamoViewStore,
} from './view-store.js';
