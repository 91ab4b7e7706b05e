export type { StoppedPartition, ViewCounters } from './builder.js';
export type { OnUnreadable } from './decode.js';
export {
  type AnyCatalog,
  type AnyView,
  type Apply,
  type ApplyContext,
  changes,
  DEFAULT_ID_WINDOW,
  type Del,
  defineView,
  del,
  type EventOfType,
  type IndexOf,
  RowChanges,
  type RowKeys,
  type RowOf,
  type View,
  type ViewEventOf,
  type ViewSpec,
} from './define-view.js';
export { ViewIndexError } from './fold.js';
export { type ListOptions, openView, type ViewEntry, type ViewPageOf, type ViewReader } from './open-view.js';
export type { RunViewOptions, ViewCommitInfo, ViewLeases } from './options.js';
export { type RebuildResult, type RebuildViewOptions, rebuildView } from './rebuild-view.js';
export {
  type ReplayFrom,
  type ReplayHandler,
  type ReplayProgress,
  type ReplayResult,
  type ReplayTo,
  type ReplayToHandlerOptions,
  type ReplayToViewOptions,
  replay,
} from './replay.js';
export type { ViewOperation, ViewRetry } from './retries.js';
export { type CaughtUpOptions, runView, type ViewRunner, type ViewStatus } from './run-view.js';
export type { SkippedRecord, SkipReporting } from './skips.js';
