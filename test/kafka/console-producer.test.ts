// Records written by Kafka's own console producer (the Java tool from the
// broker's distribution), read through kafkaLog and decoded by the catalog:
// CloudEvents binary mode with only the required attributes plus subject
// (no time, no dataschema) and a content type with parameters, and
// structured mode with a `datacontenttype` that has parameters.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { decodeRecord, defineCatalog, defineEvent, type LogRecord, t, ulid } from '@riverlog/core';
import { type KafkaLog, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, uniqueTopic, until } from './support.js';

const catalog = defineCatalog([defineEvent('product/create', { data: { id: t.string, name: t.string } })]);

interface KafkaInfra {
  ensureKafkaJars(): Promise<string>;
}

const opened: KafkaLog[] = [];
const topics: string[] = [];
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

/** Runs `org.apache.kafka.tools.ConsoleProducer` with `lines` on its standard input: headers TAB key TAB value. */
async function consoleProduce(topic: string, lines: readonly string[]): Promise<void> {
  const infra = (await import('../infra/kafka.mjs' as string)) as KafkaInfra;
  const libs = await infra.ensureKafkaJars();
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const args = [
    '-Xmx128m',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-cp',
    path.join(libs, '*'),
    'org.apache.kafka.tools.ConsoleProducer',
    '--bootstrap-server',
    (brokers ?? []).join(','),
    '--topic',
    topic,
    '--reader-property',
    'parse.headers=true',
    '--reader-property',
    'parse.key=true',
  ];
  const child = spawn(java, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stdin.end(`${lines.join('\n')}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`ConsoleProducer exited with ${code}: ${output}`);
}

describeKafka("records from Kafka's console producer", () => {
  it('reads a binary-mode record with only ce_specversion, ce_id, ce_type, ce_source, ce_subject and content-type, and a structured one', async () => {
    const topic = uniqueTopic('console-producer');
    topics.push(topic);
    const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions: 1 }, logLevel: 'nothing' });
    opened.push(log);
    await log.partitions();

    const binaryId = ulid();
    const structured = {
      specversion: '1.0',
      id: ulid(),
      type: 'product/create',
      source: 'console-producer',
      subject: 'p-2',
      datacontenttype: 'application/json; charset=utf-8',
      data: { id: 'p-2', name: 'Sandal' },
    };
    const before = Date.now();
    await consoleProduce(topic, [
      [
        `ce_specversion:1.0,ce_id:${binaryId},ce_type:product/create,ce_source:console-producer,ce_subject:p-1,content-type:application/json; charset=utf-8`,
        'p-1',
        JSON.stringify({ id: 'p-1', name: 'Boot' }),
      ].join('\t'),
      ['content-type:application/cloudevents+json; charset=UTF-8', 'p-2', JSON.stringify(structured)].join('\t'),
    ]);

    const records: LogRecord[] = [];
    await until(async () => {
      records.length = 0;
      for await (const batch of log.read()) records.push(...batch.records);
      return records.length >= 2;
    }, 'the records on the topic');
    expect(records).toHaveLength(2);
    const [binary, whole] = records.map((record) => {
      expect(record.error).toBeUndefined();
      expect(record.storedAt).toBeGreaterThanOrEqual(before - 60_000);
      const decoded = decodeRecord(catalog, record);
      if (decoded._tag === 'Left') throw decoded.left;
      return decoded.right;
    });
    expect(binary).toMatchObject({
      id: binaryId,
      type: 'product/create',
      source: 'console-producer',
      subject: 'p-1',
      data: { id: 'p-1', name: 'Boot' },
    });
    // No ce_time: the record's own Kafka timestamp.
    expect(binary?.time).toBe(new Date(records[0]?.storedAt as number).toISOString());
    expect(whole).toMatchObject({ id: structured.id, subject: 'p-2', data: { id: 'p-2', name: 'Sandal' } });
  });
});
