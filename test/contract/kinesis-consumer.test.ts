import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteCheckpointStore, sqliteLeaseStore } from '@riverlog/sqlite';
import { describeConsumerContract } from '@riverlog/testing';
import { deleteStream, describeOn, kinesalite, streamLog, uniqueStream } from '../kinesis/log-support.js';

// Kinesis has no consumer groups: consumers share shards through a LeaseStore (here SQLite, in one
// file with the checkpoints, as processes of one host would), fenced by the lease epochs.
describeOn(kinesalite, 'Kinesis consumer on kinesalite')('createConsumer on a Kinesis log (kinesalite)', () => {
  let dir: string;
  describeConsumerContract(
    'kinesis log, 4 shards, SQLite checkpoints and leases',
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'riverlog-kinesis-consumer-'));
      const stream = uniqueStream('consumer');
      return {
        log: streamLog(kinesalite, stream, 4),
        checkpoints: sqliteCheckpointStore({ path: join(dir, 'state.db') }),
        cleanup: async () => {
          await deleteStream(kinesalite, stream);
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    { timeoutMs: 30_000, leases: () => sqliteLeaseStore({ path: join(dir, 'state.db') }) },
  );
});
