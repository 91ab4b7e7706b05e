import { createConsumer } from '@riverlog/consumer';
import { defineCatalog, defineEvent, memoryDeadLetters, t } from '@riverlog/core';
import { kafkaCheckpoints, kafkaLog } from '@riverlog/kafka';
import { it } from 'vitest';
import { brokers, deleteTopic, rawKafka, uniqueTopic, until } from './support.js';

const catalog = defineCatalog([defineEvent('contract/item', { data: { id: t.string, seq: t.number } })]);
it('debug', async () => {
  const topic = uniqueTopic('dbg');
  const log = await kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions: 3 }, logLevel: 'nothing', onError: (e, i) => console.log('SUBERR', i, e) });
  const inner = kafkaCheckpoints(log);
  const checkpoints = { ...inner, save: async (g: string, p: Record<string, string>) => { console.log('SAVE', p); try { await inner.save(g, p); console.log('SAVED', p); } catch (e) { console.log('SAVEFAIL', e); throw e; } } };
  await log.append(Array.from({ length: 300 }, (_, i) => catalog.create('contract/item', `s-${i % 11}`, { id: 'x', seq: i }, { source: 'x' })));
  let calls = 0;
  let stopping: Promise<void> | undefined;
  const consumer = createConsumer({
    log, catalog, group: 'contract', checkpoints, deadLetter: memoryDeadLetters(),
    checkpointEvery: { records: 1_000_000, ms: 3_600_000 },
    hooks: { onError: (e, i) => console.log('ERR', i, e) },
    handlers: { 'contract/item': async () => { await new Promise((r) => setImmediate(r)); ++calls; if (calls === 90) { const admin = rawKafka().admin(); await admin.connect(); console.log('raw@90', JSON.stringify(await admin.fetchOffsets({ groupId: 'contract', topics: [topic] }))); await admin.disconnect(); } if (calls === 100) stopping = consumer.stop(); } },
  });
  await consumer.start();
  await until(() => stopping !== undefined, 'stop');
  await stopping;
  const admin = rawKafka().admin(); await admin.connect();
  console.log('raw', JSON.stringify(await admin.fetchOffsets({ groupId: 'contract', topics: [topic] })));
  await admin.disconnect();
  console.log('stopped; stored', await inner.load('contract'));
  await inner.close(); await log.close(); await deleteTopic(topic);
});
