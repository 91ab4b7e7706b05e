// The evolution tests of issue 9, run on one log: a producer moves from catalog v1 to v2 (an added
// optional field; a new version with an upcaster), while consumers and views run on v1 and on v2, in
// both deploy orders. Nothing may be lost, no view row may differ from a pure fold of what was
// produced, and a reader stopped by an event it cannot read resumes once it runs the new catalog.
import { isDeepStrictEqual } from 'node:util';
import { type Catalog, PARTITION_END } from '@riverlog/core';
import { createProducer, type Producer } from '@riverlog/producer';
import { until } from '@riverlog/testing';
import { defineView, replay } from '@riverlog/view-builder';
import { afterEach, describe, expect, it } from 'vitest';
import { addOptionalField, type Deployed, newVersionWithUpcaster, type Produced, type Rule, rename } from './rules.js';
import { type Backend, ConsumerService, lettersOf, rowsOf, subjectsIn, ViewService, type World } from './support.js';

const WAIT_MS = 30_000;

/** A test's producers (one per catalog, as in a rolling deploy), its readers and what was produced. */
class Scenario {
  readonly produced: Produced[] = [];
  private readonly producers: Record<Deployed, Producer>;
  /** Deployed on v1 first, then redeployed on v2. */
  readonly oldConsumer: ConsumerService;
  readonly oldView: ViewService;
  /** Deployed on v2 only. */
  readonly newConsumer: ConsumerService;
  readonly newView: ViewService;
  readonly subjects: { readonly p0: string[]; readonly p1: string[] };

  constructor(
    readonly world: World,
    readonly rule: Rule,
  ) {
    this.producers = {
      v1: createProducer({ log: world.producerLog, catalog: rule.v1 as Catalog, source: 'shop/service-v1' }),
      v2: createProducer({ log: world.producerLog, catalog: rule.v2 as Catalog, source: 'shop/service-v2' }),
    };
    this.oldConsumer = new ConsumerService(world, 'billing');
    this.newConsumer = new ConsumerService(world, 'marketing');
    this.oldView = new ViewService(world);
    this.newView = new ViewService(world);
    this.subjects = { p0: subjectsIn(world, '0', 's', 3), p1: subjectsIn(world, '1', 's', 3) };
  }

  /** Each subject's `step`-th event, emitted by the producer on `by`, in order. */
  async emit(by: Deployed, subjects: readonly string[], step: number): Promise<void> {
    for (const subject of subjects) {
      const { type, data } = this.rule.emit(by, subject, step);
      const { id, position } = await this.producers[by].emit(type, subject, data as never);
      expect(position.partition).toBe(this.world.partitionOf(subject));
      this.produced.push({ id, subject, type, data, by, ...position });
    }
  }

  async deployOld(on: Deployed): Promise<void> {
    await this.oldConsumer.deploy(this.rule[on] as Catalog, on);
    await this.oldView.deploy(this.rule.shared[on], on);
  }

  async deployNew(): Promise<void> {
    await this.newConsumer.deploy(this.rule.v2 as Catalog, 'v2');
    await this.newView.deploy(this.rule.added, 'v2');
  }

  async caughtUp(...services: (ConsumerService | ViewService)[]): Promise<void> {
    for (const service of services) {
      if (service instanceof ConsumerService) await service.consumer.caughtUp({ timeoutMs: WAIT_MS });
      else await service.runner.caughtUp();
    }
  }

  /** What a reader on `on` must have folded: every event, or (on v1) each partition up to its first unreadable event. */
  readable(on: Deployed): Produced[] {
    const stoppedAt = new Set<string>();
    return this.produced.filter((event) => {
      if (stoppedAt.has(event.partition)) return false;
      if (this.rule.read(on, event) !== 'unreadable') return true;
      stoppedAt.add(event.partition);
      return false;
    });
  }

  /** The first event of each partition a reader on `on` cannot read. */
  firstUnreadable(on: Deployed): Produced[] {
    const all = this.produced.filter((event) => this.rule.read(on, event) === 'unreadable');
    return all.filter((event, i) => all.findIndex((other) => other.partition === event.partition) === i);
  }

  /**
   * The consumer was handed exactly the events `expected` (first deliveries,
   * in log order per subject), each with the payload its catalog at the time
   * reads: nothing lost, nothing skipped, nothing unknown passed through.
   */
  checkHandled(service: ConsumerService, expected: readonly Produced[]): void {
    const bySubject: Record<string, string[]> = {};
    for (const event of expected) bySubject[event.subject] = [...(bySubject[event.subject] ?? []), event.id];
    expect(service.idsBySubject()).toEqual(bySubject);
    const byId = new Map(this.produced.map((event) => [event.id, event]));
    for (const handled of service.handled) {
      const event = byId.get(handled.id);
      expect(event, `handled an event nobody produced: ${handled.id}`).toBeDefined();
      expect({ id: handled.id, type: handled.type, data: handled.data }).toEqual({
        id: handled.id,
        type: event?.type,
        data: (this.rule.read(handled.deployed as Deployed, event as Produced) as { data: unknown }).data,
      });
      expect(handled.partition).toBe(event?.partition);
      expect(handled.offset).toBe(event?.offset);
    }
  }

  async checkRows(): Promise<void> {
    expect(await rowsOf(this.rule.shared.v2, this.world.store)).toEqual(this.rule.foldShared(this.produced));
    expect(await rowsOf(this.rule.added, this.world.store)).toEqual(this.rule.foldAdded(this.produced));
  }

  async close(): Promise<void> {
    for (const service of [this.oldConsumer, this.newConsumer, this.oldView, this.newView]) await service.stop();
    for (const producer of Object.values(this.producers)) await producer.close();
  }
}

/**
 * Runs the evolution tests on `backend`: rule 1 and rule 2 of
 * docs/evolution.md, each in both deploy orders, on a 2-partition log with
 * three subjects in each partition.
 */
export function describeEvolution(backend: Backend): void {
  let scenario: Scenario | undefined;
  afterEach(async () => {
    const done = scenario;
    scenario = undefined;
    await done?.close();
    await done?.world.close();
  });

  async function start(rule: Rule): Promise<Scenario> {
    scenario = new Scenario(await backend.open(2), rule);
    return scenario;
  }

  for (const rule of [addOptionalField, newVersionWithUpcaster]) {
    describe(`${backend.name}: ${rule.name}`, () => {
      it('readers first, then producers: readers on v2 read v1 and v2 events, nothing stops, no row differs from the pure fold', async () => {
        const s = await start(rule);
        const all = [...s.subjects.p0, ...s.subjects.p1];
        await s.emit('v1', all, 0);
        await s.deployOld('v1');
        await s.caughtUp(s.oldConsumer, s.oldView);
        expect(await rowsOf(rule.shared.v1, s.world.store)).toEqual(rule.foldShared(s.produced));

        // Readers are deployed on v2 (the old ones restarted, new ones started); producers still write v1.
        await s.deployOld('v2');
        await s.deployNew();
        await s.emit('v1', all, 1);
        await s.caughtUp(s.oldConsumer, s.oldView, s.newConsumer, s.newView);
        await s.checkRows();

        // Then the producers: v2 events, read by readers that all run v2.
        await s.emit('v2', all, 2);
        await s.emit('v2', all, 3);
        await s.caughtUp(s.oldConsumer, s.oldView, s.newConsumer, s.newView);
        await s.checkRows();
        s.checkHandled(s.oldConsumer, s.produced);
        s.checkHandled(s.newConsumer, s.produced);
        for (const service of [s.oldConsumer, s.newConsumer, s.oldView, s.newView]) expect(service.failures()).toEqual([]);
        expect(await s.world.deadLetters.list()).toEqual([]);
      });

      it('producers first, then readers: readers still on v1 read on or stop visibly at what they cannot read; deployed on v2 they resume, and nothing is lost', async () => {
        const s = await start(rule);
        const all = [...s.subjects.p0, ...s.subjects.p1];
        await s.emit('v1', all, 0);
        await s.deployOld('v1');
        await s.caughtUp(s.oldConsumer, s.oldView);

        // A rolling deploy of the producers: the new one writes v2 events to partition 0's subjects,
        // the old one goes on writing v1 events, to both partitions.
        await s.emit('v2', s.subjects.p0, 1);
        await s.emit('v2', s.subjects.p0, 2);
        await s.emit('v1', s.subjects.p1, 1);
        await s.emit('v1', s.subjects.p1, 2);
        await s.emit('v1', all, 3);
        await s.emit('v1', all, 4);

        const unreadable = s.firstUnreadable('v1');
        const readable = s.readable('v1');
        expect(unreadable.length > 0).toBe(rule.stopsOldReaders);
        if (!rule.stopsOldReaders) {
          // Rule 1: the readers still on v1 read every event, without the field they do not know.
          await s.caughtUp(s.oldConsumer, s.oldView);
          expect(s.oldConsumer.stopped()).toEqual([]);
          expect(s.oldView.runner.status().stopped).toEqual([]);
        } else {
          // Rule 2: the v2 events stop partition 0 of each reader still on v1, before the first of them.
          expect(unreadable.map((e) => e.partition)).toEqual(['0']);
          const [first] = unreadable as [Produced];
          const at = `${first.partition}/${first.offset}`;
          await until(() => s.oldConsumer.stopped().length > 0, 'the v1 consumer stopped a partition', WAIT_MS);
          expect(s.oldConsumer.stopped()).toEqual([{ partition: '0', reason: 'unreadable', code: 'UNREADABLE_VERSION' }]);
          await expect(s.oldConsumer.consumer.caughtUp({ timeoutMs: WAIT_MS })).rejects.toMatchObject({ code: 'UNREADABLE_VERSION' });
          await expect(s.oldView.runner.caughtUp()).rejects.toMatchObject({ code: 'UNREADABLE_VERSION' });
          expect(s.oldView.runner.status().stopped).toEqual([
            expect.objectContaining({ partition: '0', code: 'UNREADABLE_VERSION', offset: first.offset }),
          ]);
          // Partition 1 goes on, to its end.
          await until(
            () => readable.every((e) => s.oldConsumer.handled.some((h) => h.id === e.id)),
            'the v1 consumer handled everything before the stop and all of partition 1',
            WAIT_MS,
          );
          await until(
            async () => isDeepStrictEqual(await rowsOf(rule.shared.v1, s.world.store), rule.foldShared(readable)),
            'the v1 view folded everything before the stop and all of partition 1',
            WAIT_MS,
          ).catch(() => undefined); // the expect below shows the difference
          expect(await rowsOf(rule.shared.v1, s.world.store)).toEqual(rule.foldShared(readable));
          // Visible: hooks, dead letters (the consumer group's and the view's), and the view's checkpoint stays before it.
          expect(s.oldConsumer.failures()).toEqual([
            expect.objectContaining({ partition: '0', code: 'UNREADABLE_VERSION', deployed: 'v1', stage: 'unreadable' }),
          ]);
          expect(s.oldView.failures()).toEqual([expect.objectContaining({ partition: '0', code: 'UNREADABLE_VERSION', deployed: 'v1' })]);
          expect(await lettersOf(s.world, 'billing')).toEqual([`UNREADABLE_VERSION ${at}`]);
          expect(await lettersOf(s.world, rule.shared.v1.table)).toEqual([`UNREADABLE_VERSION ${at}`]);
          const positions = await s.world.store.positions(rule.shared.v1.table);
          expect(positions['0'] === undefined || BigInt(positions['0']) < BigInt(first.offset)).toBe(true);
          expect(positions['0']).not.toBe(PARTITION_END);
        }
        // Stopped rather than skipped: nothing after the unreadable event was handled or folded.
        s.checkHandled(s.oldConsumer, readable);
        expect(await rowsOf(rule.shared.v1, s.world.store)).toEqual(rule.foldShared(readable));

        // New readers on v2 read everything from the start.
        await s.deployNew();
        await s.caughtUp(s.newConsumer, s.newView);
        expect(await rowsOf(rule.added, s.world.store)).toEqual(rule.foldAdded(s.produced));

        // The old readers are deployed on v2: the stopped partition resumes at the event it stopped at.
        await s.deployOld('v2');
        await s.caughtUp(s.oldConsumer, s.oldView);
        expect(s.oldConsumer.stopped()).toEqual([]);
        expect(s.oldView.runner.status().stopped).toEqual([]);
        await s.checkRows();

        // And every producer moves to v2.
        await s.emit('v2', all, 5);
        await s.emit('v2', all, 6);
        await s.caughtUp(s.oldConsumer, s.oldView, s.newConsumer, s.newView);
        await s.checkRows();
        s.checkHandled(s.oldConsumer, s.produced);
        s.checkHandled(s.newConsumer, s.produced);
        // Only the readers on v1 ever reported anything.
        for (const service of [s.oldConsumer, s.newConsumer, s.oldView, s.newView]) {
          expect(service.failures().filter((e) => e.deployed === 'v2')).toEqual([]);
        }
      });
    });
  }
}

/**
 * Rule 3 of docs/evolution.md on `backend`: a type renamed (`renamedFrom`),
 * readers deployed first. Events stored under the old name are read as the
 * new type by consumers, views (running on and built anew) and replay.
 */
export function describeRename(backend: Backend): void {
  const levelsOn = <C extends typeof rename.v1 | typeof rename.v2>(
    catalog: C,
    type: 'stock/adjust' | 'stock/adjusted',
    name = 'stock-levels',
  ) =>
    defineView({
      name,
      version: 1,
      catalog: catalog as typeof rename.v2,
      initial: { level: 0, adjustments: 0 },
      apply: {
        [type]: (row: { level: number; adjustments: number }, { data }: { data: { delta: number } }) => ({
          level: row.level + data.delta,
          adjustments: row.adjustments + 1,
        }),
      } as never,
    });
  let world: World | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await world?.close();
    world = undefined;
  });

  describe(`${backend.name}: a renamed type`, () => {
    it('readers first: events stored under the old name reach consumers, views and replay as the new type; nothing is lost', async () => {
      world = await backend.open(2);
      const w = world;
      const skus = [...subjectsIn(w, '0', 'sku-', 2), ...subjectsIn(w, '1', 'sku-', 2)];
      const before = createProducer({ log: w.producerLog, catalog: rename.v1, source: 'stock/v1' });
      const after = createProducer({ log: w.producerLog, catalog: rename.v2, source: 'stock/v2' });
      closers.push(
        () => before.close(),
        () => after.close(),
      );
      const produced: { id: string; subject: string; delta: number }[] = [];
      const emit = async (round: number, producer: 'before' | 'after') => {
        for (const [i, sku] of skus.entries()) {
          const delta = (round + 1) * 10 + i;
          const { id } =
            producer === 'before'
              ? await before.emit('stock/adjust', sku, { sku, delta })
              : await after.emit('stock/adjusted', sku, { sku, delta });
          produced.push({ id, subject: sku, delta });
        }
      };
      const expectedLevels = () => {
        const rows: Record<string, { level: number; adjustments: number }> = {};
        for (const { subject, delta } of produced) {
          const row = rows[subject] ?? { level: 0, adjustments: 0 };
          rows[subject] = { level: row.level + delta, adjustments: row.adjustments + 1 };
        }
        return rows;
      };

      const consumer = new ConsumerService(w, 'stock-sync');
      const view = new ViewService(w);
      closers.push(
        () => consumer.stop(),
        () => view.stop(),
      );
      await emit(0, 'before');
      await consumer.deploy(rename.v1, 'v1');
      await view.deploy(levelsOn(rename.v1, 'stock/adjust'), 'v1');
      await consumer.consumer.caughtUp({ timeoutMs: WAIT_MS });
      await view.runner.caughtUp();

      // Readers deployed on the renamed catalog; the old producer still writes the old name.
      const levels = levelsOn(rename.v2, 'stock/adjusted');
      await consumer.deploy(rename.v2, 'v2');
      await view.deploy(levels, 'v2');
      const fresh = new ViewService(w);
      closers.push(() => fresh.stop());
      const freshView = levelsOn(rename.v2, 'stock/adjusted', 'stock-levels-rebuilt');
      await fresh.deploy(freshView, 'v2');
      await emit(1, 'before');
      // Then the producers.
      await emit(2, 'after');
      await consumer.consumer.caughtUp({ timeoutMs: WAIT_MS });
      await view.runner.caughtUp();
      await fresh.runner.caughtUp();

      const ids = (list: readonly { id: string }[]) => list.map((e) => e.id).sort();
      expect(ids(consumer.handled.filter((h, i, all) => all.findIndex((o) => o.id === h.id) === i))).toEqual(ids(produced));
      expect(consumer.handled.filter((h) => h.deployed === 'v2').every((h) => h.type === 'stock/adjusted')).toBe(true);
      // The view that ran through the deploy, and one built on the renamed catalog from the start.
      expect.soft(await rowsOf(levels, w.store), 'the view redeployed on the renamed catalog').toEqual(expectedLevels());
      expect.soft(await rowsOf(freshView, w.store), 'a view built on the renamed catalog').toEqual(expectedLevels());
      for (const service of [consumer, view, fresh]) expect(service.failures()).toEqual([]);
      expect(await w.deadLetters.list()).toEqual([]);

      // A replay filtered by the new name sees the events stored under the old one too.
      const replayed: string[] = [];
      await replay({
        log: w.readerLog,
        catalog: rename.v2,
        types: ['stock/adjusted'],
        into: (event) => void replayed.push(event.id),
      });
      expect.soft(replayed.sort(), 'replay filtered by the new name').toEqual(ids(produced));
    });

    it('producers first (the order the rule forbids): a consumer still on the old catalog dead-letters the new name visibly, as an unknown type', async () => {
      world = await backend.open(2);
      const w = world;
      const [sku] = subjectsIn(w, '0', 'sku-', 1) as [string];
      const after = createProducer({ log: w.producerLog, catalog: rename.v2, source: 'stock/v2' });
      closers.push(() => after.close());
      const { position } = await after.emit('stock/adjusted', sku, { sku, delta: 5 });
      const consumer = new ConsumerService(w, 'stock-sync');
      closers.push(() => consumer.stop());
      await consumer.deploy(rename.v1, 'v1');
      await consumer.consumer.caughtUp({ timeoutMs: WAIT_MS });
      expect(consumer.handled).toEqual([]);
      expect(await lettersOf(w, 'stock-sync')).toEqual([`UNKNOWN_EVENT_TYPE ${position.partition}/${position.offset}`]);
    });
  });
}
