import { memoryLog } from '@riverlog/core';
import { describeEventLogContract } from '@riverlog/testing';

describeEventLogContract('memory log, 4 partitions', async () => ({ log: memoryLog() }), { durable: false });
describeEventLogContract(
  'memory log, 1 partition, 64 KiB events',
  async () => ({
    log: memoryLog({ partitions: 1, maxEventBytes: 64 * 1024 }),
  }),
  { durable: false },
);
