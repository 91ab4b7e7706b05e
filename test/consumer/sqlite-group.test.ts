import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compareOffsets, createEvent, defineCatalog, defineEvent, type Position, readEnds, t } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteLeaseStore, sqliteLog } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterEach, describe, expect, it } from 'vitest';

const member = new URL('../fixtures/consumer-group-member.mjs', import.meta.url).pathname;
const catalog = defineCatalog([defineEvent('group/tick', { data: { n: t.number } })]);
const tick = (n: number) => createEvent(catalog, 'group/tick', `subject-${n % 23}`, { n }, { source: 'group-test' });

const TTL_MS = 1000;
const RENEW_MS = 150;

interface Child {
  readonly process: ChildProcess;
  readonly handledPath: string;
  readonly messages: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** Partitions it works on now, by its own reports. */
  assigned(): string[];
}

const children: Child[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
});

function startMember(dir: string, owner: string): Child {
  const handledPath = join(dir, `handled-${owner}.txt`);
  const child = spawn(process.execPath, [member, join(dir, 'log.db'), handledPath, owner, String(TTL_MS), String(RENEW_MS), '3'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => messages.push(JSON.parse(line)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const assigned = () => {
    const now = new Set<string>();
    for (const message of messages) {
      if (typeof message.start === 'string') now.add(message.start);
      if (typeof message.stop === 'string') now.delete(message.stop);
    }
    return [...now].sort();
  };
  const handle: Child = { process: child, handledPath, messages, exited, assigned };
  children.push(handle);
  return handle;
}

/** Lines `partition offset id` written by a member's handler, each before the handler returned. */
function handledBy(child: Child): { position: Position; id: string }[] {
  if (!existsSync(child.handledPath)) return [];
  return readFileSync(child.handledPath, 'utf8')
    .split('\n')
    .filter((line) => /^\S+ \S+ \S+$/.test(line))
    .map((line) => {
      const [partition, offset, id] = line.split(' ') as [string, string, string];
      return { position: { partition, offset }, id };
    });
}

const key = (position: Position) => `${position.partition}/${position.offset}`;

describe('a consumer group of two processes on one SQLite file', () => {
  it('takes over the partitions of a SIGKILLed member: every event handled, no checkpoint past unfinished work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-consumer-group-'));
    const log = sqliteLog({ path: join(dir, 'log.db'), partitions: 4 });
    const checkpoints = sqliteCheckpointStore({ database: log.database });
    const leases = sqliteLeaseStore({ database: log.database });
    try {
      const appended = new Map<string, Position>();
      const append = async (from: number, to: number) => {
        const events = Array.from({ length: to - from }, (_, i) => tick(from + i));
        const positions = await log.append(events);
        events.forEach((event, i) => {
          appended.set(event.id, positions[i] as Position);
        });
      };
      await append(0, 600);

      const a = startMember(dir, 'a');
      const b = startMember(dir, 'b');
      await until(() => a.assigned().length === 2 && b.assigned().length === 2, 'each member working on two partitions', 20_000);
      expect([...a.assigned(), ...b.assigned()].sort()).toEqual(['0', '1', '2', '3']);
      const aPartitions = a.assigned();
      await until(() => handledBy(a).length >= 40, 'member a to be mid-stream', 20_000);

      const bMessagesBeforeCrash = b.messages.length;
      a.process.kill('SIGKILL');
      await a.exited;
      // Right after the crash, before b takes over: a's partitions are checkpointed only past finished
      // records (finished by a, or by b before a rebalance handed the partition to a).
      const afterCrash = await checkpoints.load('group-test');
      const finishedAtCrash = new Set([...handledBy(a), ...handledBy(b)].map((h) => key(h.position)));
      for (const partition of aPartitions) {
        for (const position of appended.values()) {
          if (position.partition !== partition) continue;
          const checkpoint = afterCrash[partition];
          if (checkpoint !== undefined && compareOffsets(position.offset, checkpoint) <= 0) {
            expect(
              finishedAtCrash.has(key(position)),
              `checkpoint ${partition}/${checkpoint} passed ${key(position)}, which was never finished`,
            ).toBe(true);
          }
        }
      }
      expect(handledBy(a).length, 'a was killed mid-stream').toBeLessThan(600);

      await append(600, 700);
      await until(() => b.assigned().length === 4, 'b to take over all four partitions', 20_000);
      const all = new Set(appended.keys());
      await until(
        () => {
          const handled = new Set([...handledBy(a), ...handledBy(b)].map((h) => h.id));
          return [...all].every((id) => handled.has(id));
        },
        'every event handled by a or b',
        20_000,
      );

      // b resumed each of a's partitions after a's checkpoint, not from the start.
      const starts = b.messages
        .slice(bMessagesBeforeCrash)
        .filter((m) => typeof m.start === 'string' && aPartitions.includes(m.start as string));
      expect(starts.map((m) => m.start).sort()).toEqual(aPartitions);
      for (const start of starts) expect(start.after).toBe(afterCrash[start.start as string]);

      b.process.kill('SIGTERM');
      expect(await b.exited).toBe(0);
      expect(b.messages.some((m) => m.stopped === true)).toBe(true);

      // Every record up to each final checkpoint was finished by someone; the checkpoints reached the heads.
      const final = await checkpoints.load('group-test');
      expect(final).toEqual(await readEnds(log, ['0', '1', '2', '3'], {}));
      const finished = new Set([...handledBy(a), ...handledBy(b)].map((h) => key(h.position)));
      for (const position of appended.values()) expect(finished.has(key(position)), `${key(position)} finished`).toBe(true);
      expect((await leases.list('group-test')).filter((lease) => lease.owner !== undefined)).toEqual([]);
      const duplicates = handledBy(a).length + handledBy(b).length - all.size;
      expect(duplicates, 'redelivered at most what a finished after its last checkpoint').toBeLessThanOrEqual(600);
    } finally {
      await leases.close();
      await checkpoints.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
