/**
 * `@riverlog/testing/kit`: the testing kit for users' views, handlers and
 * Lambda functions, without the contract suites — so it loads without
 * vitest, under node's test runner or any other. `@riverlog/testing`
 * exports the same names beside the suites.
 *
 * @example
 * import { viewSpec } from '@riverlog/testing/kit';
 */

// The Lambda event builders live beside the adapters that parse their shapes (riverlog lambda builds with them too).
export {
  type KafkaEventOptions,
  type KinesisEventOptions,
  kinesisEvent,
  type LambdaContextOptions,
  type LambdaRecordInput,
  lambdaContext,
  type MskEventOptions,
  mskEvent,
  type RawRecord,
  type SelfManagedKafkaEventOptions,
  selfManagedKafkaEvent,
} from '@riverlog/consumer/lambda';
export { type AnyCatalog, type CreateInput, DEFAULT_SOURCE, type GivenEvent, type PlacedEvent } from './given.js';
export {
  type EmittedMatch,
  type ExpectedOutcome,
  type HandlerOutcome,
  type HandlerRun,
  type HandlerScenario,
  type HandlerSpecBuilder,
  type HandlerSpecOptions,
  type HandlerWiring,
  handlerSpec,
  type OutcomeKind,
} from './handler-spec.js';
export { SpecAssertionError } from './spec-report.js';
export { until } from './until.js';
export {
  type CatalogOfView,
  type Rows,
  type RowsCheck,
  type ViewRunSummary,
  type ViewScenario,
  type ViewScenarioResult,
  type ViewSpecBuilder,
  type ViewSpecOptions,
  viewSpec,
} from './view-spec.js';
