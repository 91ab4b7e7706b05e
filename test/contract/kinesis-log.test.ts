import { describeEventLogContract } from '@riverlog/testing';
import { deleteStream, describeOn, kinesalite, kinesisLocal, streamLog, uniqueStream } from '../kinesis/log-support.js';

describeOn(kinesalite, 'Kinesis log on kinesalite')('Kinesis log on kinesalite', () => {
  describeEventLogContract(
    'kinesis log, 4 shards, kinesalite',
    async () => {
      const stream = uniqueStream('contract');
      const log = streamLog(kinesalite, stream, 4);
      return {
        log,
        reshard: log,
        reopen: async () => streamLog(kinesalite, stream, 4),
        cleanup: () => deleteStream(kinesalite, stream),
      };
    },
    { timeoutMs: 20_000, reshards: true, largeBatch: 5_000 },
  );
});

// kinesis-local is faithful where kinesalite is not (ChildShards at a shard's end, StreamARN, paging)
// but slow (~780 records/s): the same suite with a smaller large batch.
describeOn(kinesisLocal, 'Kinesis log on kinesis-local')('Kinesis log on kinesis-local', () => {
  describeEventLogContract(
    'kinesis log, 4 shards, kinesis-local',
    async () => {
      const stream = uniqueStream('contract');
      const log = streamLog(kinesisLocal, stream, 4);
      return {
        log,
        reshard: log,
        reopen: async () => streamLog(kinesisLocal, stream, 4),
        cleanup: () => deleteStream(kinesisLocal, stream),
      };
    },
    { timeoutMs: 30_000, reshards: true, largeBatch: 1_000 },
  );
});
