import { memoryViewStore } from '@riverlog/core';
import { describeViewStoreContract } from '@riverlog/testing';

describeViewStoreContract('memory view store', async () => ({ store: memoryViewStore() }), { durable: false });
