import { memoryCheckpointStore, memoryDeadLetters, memoryLeaseStore } from '@riverlog/core';
import { describeCheckpointStoreContract, describeDeadLetterSinkContract, describeLeaseStoreContract } from '@riverlog/testing';

describeLeaseStoreContract('memory lease store', async () => ({ store: memoryLeaseStore() }), { durable: false });

describeCheckpointStoreContract('memory checkpoint store', async () => ({ store: memoryCheckpointStore() }), { durable: false });

describeDeadLetterSinkContract('memory dead letters', async () => {
  const sink = memoryDeadLetters();
  return { sink, stored: async () => sink.letters };
});
