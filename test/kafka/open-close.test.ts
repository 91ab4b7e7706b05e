// Opening a Kafka log while its topic is not there yet, and closing one while
// a read waits: on a real broker.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type KafkaClientLike, kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, createTopic, deleteTopic, describeKafka, rawKafka, uniqueTopic, until } from './support.js';

const readThenClose = fileURLToPath(new URL('./fixtures/read-then-close.mjs', import.meta.url));
const topics: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

/** A kafkajs client whose admins count the metadata requests Kafka refused. */
function countingClient(): { kafka: KafkaClientLike; refused: () => number } {
  const kafka = rawKafka('riverlog-open-test');
  let refused = 0;
  const client: KafkaClientLike = {
    producer: (config) => kafka.producer(config),
    consumer: (config) => kafka.consumer(config),
    admin: (config) => {
      const admin = kafka.admin(config);
      const fetchTopicMetadata = admin.fetchTopicMetadata.bind(admin);
      admin.fetchTopicMetadata = async (options) => {
        try {
          return await fetchTopicMetadata(options);
        } catch (error) {
          refused++;
          throw error;
        }
      };
      return admin as unknown as ReturnType<KafkaClientLike['admin']>;
    },
  };
  return { kafka: client, refused: () => refused };
}

describeKafka('opening and closing a Kafka log', () => {
  it('waits for a topic another process creates a moment later (Kafka answers UNKNOWN_TOPIC_OR_PARTITION until then), then opens', async () => {
    const topic = uniqueTopic('open-later');
    topics.push(topic);
    const { kafka, refused } = countingClient();
    const log = kafkaLog({ kafka, topic });
    cleanups.push(() => log.close());
    const listed = log.partitions();
    await until(() => refused() > 0, 'a metadata request refused for the missing topic');
    await createTopic(topic, 2);
    expect((await listed).map((p) => p.id)).toEqual(['0', '1']);
  });

  it('a topic that stays missing: LOG_OPEN_FAILED after openTimeoutMs, saying the topic does not exist', async () => {
    const topic = uniqueTopic('never-created');
    const log = kafkaLog({ brokers: brokers ?? [], topic, openTimeoutMs: 1_000, logLevel: 'nothing' });
    cleanups.push(() => log.close());
    await expect(log.partitions()).rejects.toMatchObject({
      code: 'LOG_OPEN_FAILED',
      message: expect.stringMatching(/topic ".*never-created.*" does not exist .*Create it, or pass createTopic/),
    });
  });

  it('closed while a following read waits for records: its process exits by itself', async () => {
    const topic = uniqueTopic('read-then-close');
    topics.push(topic);
    const child = spawn(process.execPath, [readThenClose, (brokers ?? []).join(','), topic], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    let exitCode: number | null | undefined;
    child.once('exit', (code) => {
      exitCode = code;
    });
    await until(() => output.includes('"closed":true'), 'the log closed in the child', 30_000).catch((error) => {
      throw new Error(`${(error as Error).message}; it printed: ${output}`);
    });
    // Exiting takes a moment; a leftover connection would keep it running for good.
    await until(() => exitCode !== undefined, 'the child to exit by itself after close()', 15_000);
    expect(exitCode, output).toBe(0);
    expect(output).toContain('"readDone":true');
  });
});
