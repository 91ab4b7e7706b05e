export { aliasTableName, DEFAULT_VIEW_PREFIX, dynamoName, viewTableName } from './names.js';
export { aliasTableDefinition, type ViewTableDefinitionOptions, viewTableDefinition } from './schema.js';
export { DEFAULT_MAX_IN_FLIGHT, DYNAMO_VIEW_LIMITS, type DynamoViewStoreOptions, dynamoViewStore } from './view-store.js';
