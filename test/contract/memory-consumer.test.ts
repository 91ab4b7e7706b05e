import { memoryCheckpointStore, memoryLog } from '@riverlog/core';
import { describeConsumerContract } from '@riverlog/testing';

describeConsumerContract('memory log, 4 partitions', () => ({ log: memoryLog(), checkpoints: memoryCheckpointStore() }));
describeConsumerContract('memory log, 2 partitions', () => ({ log: memoryLog({ partitions: 2 }), checkpoints: memoryCheckpointStore() }));
