// Least privilege: the API actions @riverlog/kinesis really calls in each role, recorded on the client
// against the emulators, are exactly the ones documented (KINESIS_ROLE_ACTIONS and the README's policies).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConsumer } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, memoryCheckpointStore, memoryDeadLetters, t } from '@riverlog/core';
import { KINESIS_ROLE_ACTIONS, type KinesisRole, kinesisLog, kinesisPolicy } from '@riverlog/kinesis';
import { createProducer } from '@riverlog/producer';
import { afterAll, describe, expect, it } from 'vitest';
import { createStream, kinesalite, kinesisLocal, rawClient, recordActions, uniqueStream, until } from './extras-support.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/kinesis/README.md');
const catalog = defineCatalog([defineEvent('cart/add', { data: { n: t.number } })]);
const events = (count: number) => Array.from({ length: count }, (_, n) => ({ subject: `cart-${n % 7}`, n }));

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** The actions the README's policy for `role` grants, from its ```json block after the role's marker comment. */
function readmeActions(role: KinesisRole): string[] {
  const text = readFileSync(README, 'utf8');
  const marker = `<!-- iam:${role} -->`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`packages/kinesis/README.md has no ${marker} policy`);
  const block = /```json\n([\s\S]*?)```/.exec(text.slice(at));
  const policy = JSON.parse(block?.[1] ?? '{}') as { Statement: { Action: string[] }[] };
  return policy.Statement.flatMap((s) => s.Action).filter((action) => action.startsWith('kinesis:'));
}

const asActions = (calls: readonly string[]) => [...new Set(calls.map((call) => `kinesis:${call}`))].sort();

describe('IAM actions per role', () => {
  it('documents each role once: the README policies grant exactly KINESIS_ROLE_ACTIONS, and kinesisPolicy builds them', () => {
    for (const role of ['producer', 'consumer', 'fanOutConsumer'] as const) {
      expect(readmeActions(role).sort(), role).toEqual([...KINESIS_ROLE_ACTIONS[role]].sort());
      const built = kinesisPolicy({ streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail', roles: [role] });
      expect(built.Statement.flatMap((s) => s.Action).sort(), role).toEqual([...KINESIS_ROLE_ACTIONS[role]].sort());
    }
    const fanOut = kinesisPolicy({
      streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail',
      roles: ['fanOutConsumer'],
      consumerName: 'emailer',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k',
    });
    expect(fanOut.Statement.map((s) => [s.Sid, s.Resource])).toEqual([
      ['RiverlogKinesisStream', 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail'],
      ['RiverlogKinesisConsumer', 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail/consumer/emailer:*'],
      ['RiverlogKinesisKms', 'arn:aws:kms:eu-west-1:123456789012:key/k'],
    ]);
  });

  describe.skipIf(!kinesalite.endpoint)('recorded against kinesalite', () => {
    it('a producer calls exactly the producer actions', async () => {
      const setup = rawClient(kinesalite);
      closers.push(() => setup.destroy());
      const stream = uniqueStream('iam-producer');
      await createStream(setup, stream, 2);
      const client = rawClient(kinesalite);
      closers.push(() => client.destroy());
      const calls = recordActions(client);
      const log = kinesisLog({ client, stream });
      closers.push(() => log.close());
      const producer = createProducer({ log, catalog, source: 'iam' });
      await Promise.all(events(50).map((e) => producer.emit('cart/add', e.subject, { n: e.n })));
      await log.append(events(5).map((e) => createEvent(catalog, 'cart/add', e.subject, { n: e.n }, { source: 'iam' })));
      expect(asActions(calls)).toEqual([...KINESIS_ROLE_ACTIONS.producer].sort());
    });

    it('a consumer (polling) calls exactly the consumer actions', async () => {
      const setup = rawClient(kinesalite);
      closers.push(() => setup.destroy());
      const stream = uniqueStream('iam-consumer');
      await createStream(setup, stream, 2);
      const writer = kinesisLog({ client: setup, stream, aggregate: true });
      await writer.append(events(40).map((e) => createEvent(catalog, 'cart/add', e.subject, { n: e.n }, { source: 'iam' })));
      await writer.close();

      const client = rawClient(kinesalite);
      closers.push(() => client.destroy());
      const calls = recordActions(client);
      const log = kinesisLog({ client, stream });
      closers.push(() => log.close());
      let handled = 0;
      const consumer = createConsumer({
        log,
        catalog,
        group: 'iam',
        checkpoints: memoryCheckpointStore(),
        deadLetters: memoryDeadLetters(),
        handlers: { 'cart/add': () => void handled++ },
      });
      await consumer.start();
      await consumer.caughtUp({ timeoutMs: 30_000 });
      await consumer.stop();
      let read = 0;
      for await (const batch of log.read({ from: 'earliest' })) read += batch.records.length;
      expect(handled).toBe(40);
      expect(read).toBe(40);
      expect(asActions(calls)).toEqual([...KINESIS_ROLE_ACTIONS.consumer].sort());
    });
  });

  describe.skipIf(!kinesisLocal.endpoint)('recorded against kinesis-local', () => {
    it('an enhanced fan-out consumer calls exactly the fan-out actions (no GetRecords, no GetShardIterator)', async () => {
      const setup = rawClient(kinesisLocal);
      closers.push(() => setup.destroy());
      const stream = uniqueStream('iam-fan-out');
      await createStream(setup, stream, 1);
      const writer = kinesisLog({ client: setup, stream });
      await writer.append(events(10).map((e) => createEvent(catalog, 'cart/add', e.subject, { n: e.n }, { source: 'iam' })));
      await writer.close();

      const client = rawClient(kinesisLocal);
      closers.push(() => client.destroy());
      const calls = recordActions(client);
      const log = kinesisLog({ client, stream, fanOut: { consumerName: 'iam-reader' } });
      closers.push(() => log.close());
      let handled = 0;
      const consumer = createConsumer({
        log,
        catalog,
        group: 'iam',
        checkpoints: memoryCheckpointStore(),
        deadLetters: memoryDeadLetters(),
        handlers: { 'cart/add': () => void handled++ },
      });
      await consumer.start();
      await until(() => handled === 10, '10 events through enhanced fan-out');
      await consumer.stop();
      expect(asActions(calls)).toEqual([...KINESIS_ROLE_ACTIONS.fanOutConsumer].sort());
    });
  });
});
