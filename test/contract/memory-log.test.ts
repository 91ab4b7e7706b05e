import { memoryLog } from '@riverlog/core';
import { describeEventLogContract } from '@riverlog/testing';

describeEventLogContract(
  'memory log, 4 partitions',
  async () => {
    const log = memoryLog();
    return { log, reshard: log };
  },
  { durable: false, reshards: true },
);
describeEventLogContract(
  'memory log, 1 partition, 64 KiB events',
  async () => {
    const log = memoryLog({ partitions: 1, maxEventBytes: 64 * 1024 });
    return { log, reshard: log };
  },
  { durable: false, reshards: true },
);
