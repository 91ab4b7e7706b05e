// A consumer process SIGKILLed while its group rebalances (a second process
// is joining): the survivor takes over every partition from the view's own
// checkpoint; nothing is skipped and nothing is applied twice.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvent, defineCatalog, defineEvent, type Envelope, type Position, t } from '@riverlog/core';
import { kafkaLog } from '@riverlog/kafka';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, topicHeads, uniqueTopic, until } from './support.js';
import { readView, spawnViewProcess, stopViewProcess, type ViewProcess, viewCheckpoint } from './view-processes.js';

const catalog = defineCatalog([defineEvent('chaos/tick', { data: { n: t.number } })]);
const EVENTS = 30_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describeKafka('a consumer process killed during a rebalance', () => {
  it('the other takes over from the view checkpoint: every event applied exactly once', async () => {
    const topic = uniqueTopic('rebalance-kill');
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-kafka-rebalance-'));
    cleanups.push(
      () => rm(dir, { recursive: true, force: true }),
      () => deleteTopic(topic),
    );
    const dbPath = join(dir, 'view.db');
    const log = kafkaLog({ brokers: brokers ?? [], topic, createTopic: { partitions: 3 }, logLevel: 'nothing' });
    const events: Envelope[] = Array.from({ length: EVENTS }, (_, n) =>
      createEvent(catalog, 'chaos/tick', `s-${n % 97}`, { n }, { source: 'test' }),
    );
    const positions: Position[] = [];
    for (let i = 0; i < EVENTS; i += 1000) positions.push(...(await log.append(events.slice(i, i + 1000))));
    const heads = await topicHeads(topic);
    await log.close();

    const spawned: ViewProcess[] = [];
    cleanups.push(async () => {
      for (const each of spawned) each.child.kill('SIGKILL');
    });
    const first = spawnViewProcess(brokers ?? [], topic, 'view-builders', dbPath, 'first');
    spawned.push(first);
    await until(() => first.handled() >= 3_000, 'the first process to be mid-stream', 60_000);

    const second = spawnViewProcess(brokers ?? [], topic, 'view-builders', dbPath, 'second');
    spawned.push(second);
    // The second one's join puts the group into a rebalance; the first dies as it hands partitions over.
    await until(() => second.lines.some((l) => l.event === 'joining'), 'the second process to start joining', 30_000);
    await until(() => first.lines.some((l) => l.event === 'revoked'), 'the first process to give up partitions in the rebalance', 30_000);
    const handledBeforeKill = first.handled();
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(handledBeforeKill).toBeLessThan(EVENTS);

    await until(() => readView(dbPath).size >= EVENTS, 'the view to hold every event', 90_000);
    const view = readView(dbPath);
    expect(view.size).toBe(EVENTS);
    events.forEach((event, i) => {
      const row = view.get(event.id);
      const at = positions[i] as Position;
      if (row?.applied !== 1 || row.partition !== at.partition || row.offset !== at.offset) {
        expect.fail(`event ${i} (${event.id}) at ${at.partition}/${at.offset}: view has ${JSON.stringify(row)}`);
      }
    });
    expect(viewCheckpoint(dbPath)).toEqual(heads);
    // The survivor holds every partition now.
    const partitionsOfSecond = new Set(second.lines.filter((l) => l.event === 'assigned').map((l) => l.partition));
    expect([...partitionsOfSecond].sort()).toEqual(['0', '1', '2']);
    expect(await stopViewProcess(second)).toBe(0);
  });
});
