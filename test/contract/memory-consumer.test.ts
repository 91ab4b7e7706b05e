import { memoryCheckpointStore, memoryLeaseStore, memoryLog } from '@riverlog/core';
import { describeConsumerContract } from '@riverlog/testing';

const leases = () => memoryLeaseStore();
describeConsumerContract('memory log, 4 partitions', () => ({ log: memoryLog(), checkpoints: memoryCheckpointStore() }), { leases });
describeConsumerContract('memory log, 2 partitions', () => ({ log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() }), {
  leases,
});
