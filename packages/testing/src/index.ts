export { type ConsumerContractOptions, type ConsumerUnderTest, describeConsumerContract } from './consumer-contract.js';
export { describeEventLogContract, type EventLogContractOptions, type EventLogUnderTest } from './event-log-contract.js';
export { until } from './until.js';
export { describeViewStoreContract, type ViewStoreContractOptions, type ViewStoreUnderTest } from './view-store-contract.js';
