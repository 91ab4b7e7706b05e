export type { SqliteSource } from './connection.js';
export { type SqliteLog, type SqliteLogOptions, sqliteLog } from './log/sqlite-log.js';
export { sqliteCheckpointStore } from './stores/checkpoint-store.js';
export { type SqliteDeadLetters, sqliteDeadLetters } from './stores/dead-letters.js';
export { sqliteLeaseStore } from './stores/lease-store.js';
export { type SqliteViewStore, sqliteViewStore } from './stores/view-store.js';
