export {
  type CheckpointStoreContractOptions,
  type CheckpointStoreUnderTest,
  describeCheckpointStoreContract,
} from './checkpoint-store-contract.js';
export { type ConsumerContractOptions, type ConsumerUnderTest, describeConsumerContract } from './consumer-contract.js';
export { type DeadLetterSinkUnderTest, describeDeadLetterSinkContract } from './dead-letter-sink-contract.js';
export {
  describeEventLogContract,
  type EventLogContractOptions,
  type EventLogUnderTest,
  type LogResharding,
} from './event-log-contract.js';
// The testing kit for users (also at `@riverlog/testing/kit`, which loads without vitest).
export * from './kit.js';
export { describeLeaseStoreContract, type LeaseStoreContractOptions, type LeaseStoreUnderTest } from './lease-store-contract.js';
export { describeViewStoreContract, type ViewStoreContractOptions, type ViewStoreUnderTest } from './view-store-contract.js';
