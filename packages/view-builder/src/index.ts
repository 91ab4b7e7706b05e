export {
  type AnyCatalog,
  type AnyView,
  type Apply,
  type ApplyContext,
  changes,
  type Del,
  defineView,
  del,
  type EventOfType,
  type IndexOf,
  RowChanges,
  type RowKeys,
  type RowOf,
  remove,
  type View,
  type ViewEventOf,
  type ViewSpec,
} from './define-view.js';
export { ViewIndexError } from './fold.js';
export { type ListOptions, openView, type ViewEntry, type ViewReader } from './open-view.js';
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
export { type RunViewOptions, runView, type ViewCommitInfo, type ViewProgress, type ViewRunner } from './run-view.js';
export type { SkippedRecord, SkipReporting } from './skips.js';
