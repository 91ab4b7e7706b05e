export { describeEventLogContract, type EventLogContractOptions, type EventLogUnderTest } from './event-log-contract.js';
export { type ConsumerContractOptions, type ConsumerUnderTest, describeConsumerContract } from './consumer-contract.js';
