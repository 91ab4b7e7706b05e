// What the evolution tests share: the logs they run on, and readers (a consumer group and a view)
// that are deployed, stopped and redeployed with another catalog, as a service would be.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Consumer, type ConsumerHandlers, createConsumer } from '@riverlog/consumer';
import {
  type Catalog,
  type CheckpointStore,
  type DeadLetter,
  type Envelope,
  type EventLog,
  partitionForSubject,
  type ViewStore,
} from '@riverlog/core';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLog, sqliteViewStore } from '@riverlog/sqlite';
import { type AnyView, openView, runView, type ViewRunner } from '@riverlog/view-builder';

/** One log the tests run on, opened fresh for each test. */
export interface Backend {
  readonly name: string;
  open(partitions: number): Promise<World>;
}

/**
 * Everything a test's services share: a producer's log handle, the readers'
 * log handle, the partition a subject lands in, the stores (SQLite files in a
 * temp dir), and the checkpoints of consumer groups (a SQLite store, or none
 * where the log keeps its groups' offsets).
 */
export interface World {
  /** The handle producers append through. */
  readonly producerLog: EventLog;
  /** The handle consumers and views read through (another service, another handle). */
  readonly readerLog: EventLog;
  readonly partitions: number;
  partitionOf(subject: string): string;
  readonly checkpoints: CheckpointStore | undefined;
  readonly store: ViewStore;
  readonly deadLetters: ReturnType<typeof sqliteDeadLetters>;
  close(): Promise<void>;
}

/** Opens the stores of a world in a fresh temp dir; `logs` opens its logs there. */
export async function openWorld(
  partitions: number,
  logs: (dir: string) => Promise<{
    producerLog: EventLog;
    readerLog: EventLog;
    partitionOf(subject: string): string;
    checkpoints: boolean;
    cleanup?: () => Promise<void>;
  }>,
): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-evolution-'));
  const opened = await logs(dir);
  const store = sqliteViewStore({ path: join(dir, 'views.db') });
  const checkpoints = opened.checkpoints ? sqliteCheckpointStore({ path: join(dir, 'checkpoints.db') }) : undefined;
  const deadLetters = sqliteDeadLetters({ path: join(dir, 'dead-letters.db') });
  return {
    producerLog: opened.producerLog,
    readerLog: opened.readerLog,
    partitions,
    partitionOf: opened.partitionOf,
    checkpoints,
    store,
    deadLetters,
    async close() {
      await opened.producerLog.close();
      await opened.readerLog.close();
      await store.close?.();
      await (checkpoints as { close?: () => Promise<void> } | undefined)?.close?.();
      await deadLetters.close();
      await opened.cleanup?.();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The SQLite log: one file, opened twice (the producing service and the reading one). */
export const sqliteBackend: Backend = {
  name: 'SQLite log',
  open: (partitions) =>
    openWorld(partitions, async (dir) => {
      const path = join(dir, 'log.db');
      const producerLog = sqliteLog({ path, partitions });
      return {
        producerLog,
        readerLog: sqliteLog({ path }),
        partitionOf: (subject) => String(partitionForSubject(subject, partitions)),
        checkpoints: true,
      };
    }),
};

/** Subjects named `${prefix}<n>` that land in `partition`, `count` of them. */
export function subjectsIn(world: World, partition: string, prefix: string, count: number): string[] {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) {
    if (world.partitionOf(`${prefix}${i}`) === partition) found.push(`${prefix}${i}`);
    if (i > 100_000) throw new Error(`no subjects in partition ${partition}`);
  }
  return found;
}

/** One event a consumer's handler was given. */
export interface Handled {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly data: unknown;
  readonly partition: string;
  readonly offset: string;
  /** The catalog the consumer ran with when it handled it. */
  readonly deployed: string;
}

/** What stopped a partition, as the hooks reported it. */
export interface Reported {
  readonly partition: string | undefined;
  readonly code: string | undefined;
  readonly deployed: string;
  /** The consumer's error stage; the message, for what a test did not expect. */
  readonly stage?: string;
  readonly message?: string;
}

function messageOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return `${error instanceof Error ? error.message : String(error)}${cause ? ` (cause: ${messageOf(cause)})` : ''}`;
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

/**
 * A consumer group as a service runs it: `deploy(catalog)` stops the running
 * consumer (if any) and starts one with that catalog, on the same group,
 * checkpoints and dead letters. Everything its handlers were given, and every
 * partition stop reported to `onError`, is kept across deploys.
 */
export class ConsumerService {
  readonly handled: Handled[] = [];
  readonly errors: Reported[] = [];
  private running: Consumer | undefined;

  constructor(
    private readonly world: World,
    readonly group: string,
  ) {}

  /**
   * What `onError` reported, less the Kafka group's own restarts: kafkajs
   * restarts a group consumer after a transient failure (e.g. the group
   * coordinator still loading), which the consumer reports to `onError` with
   * stage `read` although it is retried (a finding: the README has transient
   * read failures go to `onRetry`).
   */
  failures(): Reported[] {
    return this.errors.filter((e) => !(e.stage === 'read' && e.message?.includes('crashed and restarts')));
  }

  get consumer(): Consumer {
    if (!this.running) throw new Error(`consumer ${this.group} is not deployed`);
    return this.running;
  }

  async deploy<C extends Catalog>(catalog: C, name: string): Promise<void> {
    await this.stop();
    const handle = (event: Envelope, context: { position: { partition: string; offset: string } }) => {
      this.handled.push({
        id: event.id,
        type: event.type,
        subject: event.subject,
        data: event.data,
        partition: context.position.partition,
        offset: context.position.offset,
        deployed: name,
      });
    };
    const handlers = Object.fromEntries(catalog.types.map((type) => [type, handle])) as unknown as ConsumerHandlers<C>;
    this.running = createConsumer({
      log: this.world.readerLog,
      catalog,
      group: this.group,
      ...(this.world.checkpoints ? { checkpoints: this.world.checkpoints } : {}),
      deadLetters: this.world.deadLetters,
      handlers,
      checkpointEvery: { records: 1, ms: 50 },
      hooks: {
        onError: (error, info) => {
          this.errors.push({
            partition: info.partition,
            code: codeOf(error),
            deployed: name,
            stage: info.stage,
            message: messageOf(error),
          });
        },
      },
    });
    await this.running.start();
  }

  /** Partitions the running consumer holds stopped, with the code of what stopped each. */
  stopped(): { partition: string; reason: string | undefined; code: string | undefined }[] {
    return this.consumer
      .status()
      .partitions.filter((p) => p.state === 'stopped')
      .map((p) => ({ partition: p.partition, reason: p.stopped?.reason, code: codeOf(p.stopped?.error) }));
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.stop();
  }

  /** The ids handled, first delivery only, in the order they were handled per subject. */
  idsBySubject(): Record<string, string[]> {
    const seen = new Set<string>();
    const out: Record<string, string[]> = {};
    for (const h of this.handled) {
      if (seen.has(h.id)) continue;
      seen.add(h.id);
      out[h.subject] ??= [];
      out[h.subject]?.push(h.id);
    }
    return out;
  }
}

/**
 * A view as a service builds it: `deploy(view)` stops the running builder (if
 * any) and runs the given definition (same name and version, built with
 * another catalog) on the same store. Partition stops reported to `onError`
 * are kept across deploys.
 */
export class ViewService {
  readonly errors: Reported[] = [];
  private running: ViewRunner | undefined;

  constructor(private readonly world: World) {}

  failures(): Reported[] {
    return this.errors;
  }

  get runner(): ViewRunner {
    if (!this.running) throw new Error('view is not deployed');
    return this.running;
  }

  async deploy(view: AnyView, name: string): Promise<void> {
    await this.stop();
    this.running = runView(view, {
      log: this.world.readerLog,
      store: this.world.store,
      deadLetters: this.world.deadLetters,
      onError: (error, partition) => {
        this.errors.push({ partition, code: codeOf(error), deployed: name, stage: 'view', message: messageOf(error) });
      },
    });
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.stop();
  }
}

/** Every row of a view, by key. */
export async function rowsOf(view: AnyView, store: ViewStore): Promise<Record<string, unknown>> {
  const rows: Record<string, unknown> = {};
  for await (const { key, value } of openView(view, store).all()) rows[key] = value;
  return rows;
}

/** The dead letters of one group (a consumer group, or a view's table), as `code partition/offset`. */
export async function lettersOf(world: World, group: string): Promise<string[]> {
  const letters: DeadLetter[] = await world.deadLetters.list(group);
  return letters.map((l) => `${l.code} ${l.record.position.partition}/${l.record.position.offset}`).sort();
}
