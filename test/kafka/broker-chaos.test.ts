// The broker SIGKILLed and restarted while a producer emits 100,000 events and
// a group of two consumer processes builds a SQLite view. This test runs its
// own broker (it kills it), so it needs Java and Maven even when
// RIVERLOG_KAFKA_BROKERS points elsewhere.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCatalog, defineEvent, type Position, RiverlogError, t, ulid } from '@riverlog/core';
import { kafkaLog } from '@riverlog/kafka';
import { createProducer } from '@riverlog/producer';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, expect, it } from 'vitest';
import { describeKafka, until } from './support.js';
import { readView, spawnViewProcess, stopViewProcess, type ViewProcess, viewCheckpoint } from './view-processes.js';

const catalog = defineCatalog([defineEvent('chaos/tick', { data: { n: t.number } })]);
const EVENTS = 100_000;
const WAVE = 2_000;
const KILL_AFTER = 20_000;

interface Broker {
  readonly brokers: string[];
  readonly pid: number;
  stop(): Promise<void>;
}
interface KafkaInfra {
  startKafka(options?: { heap?: string }): Promise<Broker>;
  killKafka(broker: Broker): Promise<void>;
  restartKafka(broker: Broker): Promise<Broker>;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describeKafka('the broker killed with SIGKILL and restarted under load', () => {
  it('every acknowledged event is in the view exactly once; every other one was reported failed', { timeout: 300_000 }, async (context) => {
    const infra = (await import('../infra/kafka.mjs' as string)) as KafkaInfra;
    let broker: Broker;
    try {
      broker = await infra.startKafka({ heap: '512m' });
    } catch (error) {
      if ((error as { code?: string }).code === 'KAFKA_UNAVAILABLE' && process.env.CI !== 'true') {
        context.skip(`needs its own broker: ${(error as Error).message}`);
        return;
      }
      throw error;
    }
    cleanups.push(() => broker.stop());
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-kafka-chaos-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'view.db');
    const topic = 'chaos';

    // An injected client with a short retry budget, so that appends during the outage fail (and are reported) rather than wait it out.
    const kafka = new Kafka({
      clientId: 'chaos-producer',
      brokers: broker.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    const log = kafkaLog({ kafka, topic, createTopic: { partitions: 3 } });
    cleanups.push(() => log.close());
    // The log connects on its first call: this one creates the topic, before the consumer processes look for it.
    await log.partitions();

    const members: ViewProcess[] = [];
    cleanups.push(async () => {
      for (const member of members) member.child.kill('SIGKILL');
    });
    for (const name of ['member-a', 'member-b']) members.push(spawnViewProcess(broker.brokers, topic, 'chaos-view', dbPath, name));
    await until(() => members.every((m) => m.lines.some((l) => l.event === 'started')), 'both consumer processes in the group', 60_000);

    const producer = createProducer({ log, catalog, source: 'chaos' });
    const ids = Array.from({ length: EVENTS }, () => ulid());
    const acked = new Map<string, Position>();
    const failed = new Map<string, unknown>();
    let killed: Promise<void> | undefined;
    for (let start = 0; start < EVENTS; start += WAVE) {
      const wave: Promise<void>[] = [];
      for (let n = start; n < Math.min(start + WAVE, EVENTS); n++) {
        const id = ids[n] as string;
        wave.push(
          producer.emit('chaos/tick', `s-${n % 211}`, { n }, { id }).then(
            ({ position }) => {
              acked.set(id, position);
            },
            (error) => {
              failed.set(id, error);
            },
          ),
        );
      }
      await Promise.all(wave);
      if (!killed && acked.size >= KILL_AFTER) {
        // Kill it mid-stream and bring it back while the producer keeps emitting.
        await infra.killKafka(broker);
        killed = infra.restartKafka(broker).then((restarted) => {
          broker = restarted;
        });
      }
    }
    await killed;
    await producer.close();

    // Never silent: each event is either acknowledged or reported failed, and failures say why.
    expect(acked.size + failed.size).toBe(EVENTS);
    expect(failed.size, 'appends during the outage fail').toBeGreaterThan(0);
    for (const error of failed.values()) {
      expect(error).toBeInstanceOf(RiverlogError);
      expect((error as RiverlogError).code).toBe('LOG_WRITE_FAILED');
    }

    try {
      await until(
        () => {
          const view = readView(dbPath);
          for (const id of acked.keys()) if (!view.has(id)) return false;
          return true;
        },
        'every acknowledged event in the view',
        120_000,
      );
    } catch (error) {
      const view = readView(dbPath);
      const missing = [...acked.entries()].filter(([id]) => !view.has(id));
      const byPartition: Record<string, number> = {};
      for (const [, position] of missing) byPartition[position.partition] = (byPartition[position.partition] ?? 0) + 1;
      // Tells a lost delivery (the event is in the topic where it was acknowledged) from a wrong acknowledged position.
      const raw = await scanTopic(
        broker.brokers,
        topic,
        new Set(missing.slice(0, 20).map(([id]) => id)),
        missing.slice(0, 20).map(([, p]) => p),
      );
      const byOffset = new Map([...view.values()].map((row) => [`${row.partition}/${row.offset}`, row.id]));
      const details = missing.slice(0, 20).map(([id, position]) => {
        const at = `${position.partition}/${position.offset}`;
        return (
          `${id} acknowledged at ${at}, in the topic at ${JSON.stringify(raw.found.get(id) ?? [])}; ` +
          `the topic has ${JSON.stringify(raw.atPosition.get(at) ?? null)} there, the view ${JSON.stringify(byOffset.get(at) ?? null)}`
        );
      });
      throw new Error(
        `${(error as Error).message}: ${missing.length} missing (by partition ${JSON.stringify(byPartition)}): ${details.join('; ')}; ` +
          `topic ends ${JSON.stringify(raw.ends)}, view checkpoint ${JSON.stringify(viewCheckpoint(dbPath))}; ` +
          `dead letters ${JSON.stringify(members.flatMap((m) => m.lines.filter((l) => l.event === 'dead-letter')))}; ` +
          members
            .map((m) => `${m.name}: ${JSON.stringify(m.lines.filter((l) => l.event !== 'progress').slice(-8))} handled ${m.handled()}`)
            .join('; '),
      );
    }
    const view = readView(dbPath);
    for (const [id, position] of acked) {
      const row = view.get(id);
      if (row?.applied !== 1 || row.partition !== position.partition || row.offset !== position.offset) {
        expect.fail(`acknowledged ${id} at ${position.partition}/${position.offset}: view has ${JSON.stringify(row)}`);
      }
    }
    // A dead letter here is an event the view lost (the fixture's handler only fails on SQLite errors).
    expect(members.flatMap((m) => m.lines.filter((l) => l.event === 'dead-letter'))).toEqual([]);
    // Events reported failed may have been written anyway (at-least-once); none is applied twice.
    for (const row of view.values()) expect(row.applied).toBe(1);
    for (const member of members) expect(await stopViewProcess(member)).toBe(0);
    console.log(
      `[kafka chaos] ${acked.size} acknowledged, ${failed.size} reported failed, ${view.size - acked.size} of those in the log anyway; ` +
        `members applied ${members.map((m) => m.handled()).join(' + ')}; handler retries ${members.map((m) => m.lines.filter((l) => l.event === 'retry').length).join(' + ')} ` +
        `(most attempts ${Math.max(0, ...members.flatMap((m) => m.lines.filter((l) => l.event === 'retry').map((l) => Number(l.attempt))))}, ` +
        `${JSON.stringify([...new Set(members.flatMap((m) => m.lines.filter((l) => l.event === 'retry').map((l) => l.error)))])})`,
    );
  });
});

/** Reads the whole topic with a plain kafkajs consumer: where each of `ids` is, and which id sits at each of `positions`. */
async function scanTopic(brokers: string[], topic: string, ids: ReadonlySet<string>, positions: readonly Position[]) {
  const kafka = new Kafka({ clientId: 'chaos-scan', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [String(p.partition), p.high]));
  await admin.disconnect();
  const wanted = new Set(positions.map((p) => `${p.partition}/${p.offset}`));
  const found = new Map<string, string[]>();
  const atPosition = new Map<string, string>();
  const reached = new Map<string, bigint>();
  const consumer = kafka.consumer({ groupId: `chaos-scan-${ulid()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const value = message.value?.toString('utf8') ?? '';
        const id = (JSON.parse(value) as { id: string }).id;
        const at = `${batch.partition}/${message.offset}`;
        if (ids.has(id)) found.set(id, [...(found.get(id) ?? []), at]);
        if (wanted.has(at)) atPosition.set(at, id);
        reached.set(String(batch.partition), BigInt(message.offset) + 1n);
      }
    },
  });
  await until(
    () => Object.entries(ends).every(([p, end]) => BigInt(end) === 0n || (reached.get(p) ?? 0n) >= BigInt(end)),
    'the raw scan of the topic',
    60_000,
  ).catch(() => {});
  await consumer.disconnect();
  return { found, atPosition, ends };
}
