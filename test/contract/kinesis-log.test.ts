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
