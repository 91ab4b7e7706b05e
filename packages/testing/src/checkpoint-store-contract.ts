import { type CheckpointStore, PARTITION_END, RiverlogError } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** What a contract factory hands the suite: a fresh, empty checkpoint store, and how to dispose of it. */
export interface CheckpointStoreUnderTest {
  /** A new, empty store. The suite closes it after each test. */
  readonly store: CheckpointStore;
  /** Another client of the same storage (a second process's connection). Absent: `store` itself. The suite closes it. */
  readonly connect?: () => Promise<CheckpointStore>;
  /** Opens the same storage again after `store` was closed (durable stores): the suite checks what survives. */
  readonly reopen?: () => Promise<CheckpointStore>;
  /** Removes what the store left behind (files, tables). Runs after the stores are closed. */
  readonly cleanup?: () => Promise<void>;
}

export interface CheckpointStoreContractOptions {
  /**
   * Whether the store keeps checkpoints across close and reopen (its factory
   * then returns `reopen`). Default true; false for in-process stores, whose
   * reopen test is then not registered at all.
   */
  readonly durable?: boolean;
}

const GROUP = 'contract-group';

/** Runs `save` and expects it refused with `LEASE_LOST` naming the partition. */
async function leaseLost(save: () => Promise<unknown>, partition: string): Promise<void> {
  let failure: unknown;
  try {
    await save();
  } catch (error) {
    failure = error;
  }
  if (failure === undefined) throw new Error(`expected LEASE_LOST for partition ${partition}, but the save succeeded`);
  expect(failure).toBeInstanceOf(RiverlogError);
  expect((failure as RiverlogError).code, (failure as Error).message).toBe('LEASE_LOST');
  expect((failure as Error).message).toContain(`partition ${partition}`);
}

/**
 * The behaviour every `CheckpointStore` must have: per group and partition
 * offsets that merge, and fenced saves — refused with `LEASE_LOST` (nothing
 * written) once the store has seen a higher lease epoch for a partition,
 * a save with empty positions being a claim. Registers a vitest `describe`
 * block.
 *
 * @example
 * import { memoryCheckpointStore } from '@riverlog/core';
 * import { describeCheckpointStoreContract } from '@riverlog/testing';
 *
 * describeCheckpointStoreContract('memory checkpoints', async () => ({ store: memoryCheckpointStore() }), { durable: false });
 */
export function describeCheckpointStoreContract(
  name: string,
  factory: () => Promise<CheckpointStoreUnderTest>,
  options: CheckpointStoreContractOptions = {},
): void {
  const durable = options.durable ?? true;

  describe(`CheckpointStore contract: ${name}`, () => {
    let subject: CheckpointStoreUnderTest;
    let store: CheckpointStore;
    const opened: CheckpointStore[] = [];

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
      opened.push(store);
    });

    afterEach(async () => {
      for (const each of new Set(opened.splice(0))) await each.close();
      await subject.cleanup?.();
    });

    async function other(): Promise<CheckpointStore> {
      if (!subject.connect) return store;
      const connected = await subject.connect();
      opened.push(connected);
      return connected;
    }

    it('loads nothing for a new group; saves merge per partition; groups are apart', async () => {
      expect(await store.load(GROUP)).toEqual({});
      await store.save(GROUP, { '0': '4', '1': '9' });
      await store.save(GROUP, { '1': '12' });
      await store.save('another-group', { '0': '1' });
      expect(await store.load(GROUP)).toEqual({ '0': '4', '1': '12' });
      expect(await (await other()).load('another-group')).toEqual({ '0': '1' });
    });

    it('keeps offsets as strings, long ones and PARTITION_END included', async () => {
      const long = '49590338271490256608559692538361571095921575989136588898';
      await store.save(GROUP, { '0': long, '1': PARTITION_END, 'shardId-000000000007': '0' });
      expect(await store.load(GROUP)).toEqual({ '0': long, '1': PARTITION_END, 'shardId-000000000007': '0' });
    });

    it('a claim (empty positions under a fence) writes no offset', async () => {
      await store.save(GROUP, {}, { '0': 1 });
      expect(await store.load(GROUP)).toEqual({});
      await store.save(GROUP, { '0': '3' }, { '0': 1 });
      expect(await store.load(GROUP)).toEqual({ '0': '3' });
    });

    it('refuses a fenced save after a claim under a higher epoch, with LEASE_LOST, and writes nothing', async () => {
      await store.save(GROUP, { '0': '5' }, { '0': 1 });
      await (await other()).save(GROUP, {}, { '0': 2 });
      await leaseLost(() => store.save(GROUP, { '0': '9' }, { '0': 1 }), '0');
      expect(await store.load(GROUP)).toEqual({ '0': '5' });
    });

    it('never moves a checkpoint under a stale fence, also when the new owner has not written an offset yet', async () => {
      const old = store;
      const next = await other();
      await old.save(GROUP, { '0': '5', '1': '7' }, { '0': 3, '1': 3 });
      await next.save(GROUP, {}, { '0': 4 });
      // One stale partition refuses the whole save: partition 1 does not move either.
      await leaseLost(() => old.save(GROUP, { '0': '6', '1': '8' }, { '0': 3, '1': 3 }), '0');
      expect(await next.load(GROUP)).toEqual({ '0': '5', '1': '7' });
      await leaseLost(() => old.save(GROUP, {}, { '0': 3 }), '0');
      await next.save(GROUP, { '0': '6' }, { '0': 4 });
      await leaseLost(() => old.save(GROUP, { '0': '100' }, { '0': 3 }), '0');
      expect(await old.load(GROUP)).toEqual({ '0': '6', '1': '7' });
      // The old owner's other partition is still its own.
      await old.save(GROUP, { '1': '8' }, { '1': 3 });
      expect(await next.load(GROUP)).toEqual({ '0': '6', '1': '8' });
    });

    it('accepts saves under the same or a higher epoch, and then refuses the lower ones', async () => {
      await store.save(GROUP, { '0': '1' }, { '0': 5 });
      await store.save(GROUP, { '0': '2' }, { '0': 5 });
      await store.save(GROUP, { '0': '3' }, { '0': 7 });
      await leaseLost(() => store.save(GROUP, { '0': '4' }, { '0': 6 }), '0');
      expect(await store.load(GROUP)).toEqual({ '0': '3' });
    });

    it('keeps fences per group and partition', async () => {
      await store.save(GROUP, {}, { '0': 9 });
      await store.save(GROUP, { '1': '1' }, { '1': 1 });
      await store.save('another-group', { '0': '1' }, { '0': 1 });
      expect(await store.load('another-group')).toEqual({ '0': '1' });
      expect(await store.load(GROUP)).toEqual({ '1': '1' });
    });

    it('refuses a fence epoch that is not an integer with INVALID_OPTION, writes nothing, and keeps fencing', async () => {
      await store.save(GROUP, { '0': '5' }, { '0': 3 });
      for (const epoch of [Number.NaN, 2.5, '4' as unknown as number]) {
        let failure: unknown;
        try {
          await store.save(GROUP, { '0': '6' }, { '0': epoch });
        } catch (error) {
          failure = error;
        }
        expect((failure as RiverlogError | undefined)?.code, `epoch ${String(epoch)}`).toBe('INVALID_OPTION');
      }
      expect(await store.load(GROUP)).toEqual({ '0': '5' });
      await leaseLost(() => store.save(GROUP, { '0': '7' }, { '0': 2 }), '0');
    });

    it('an unfenced save is not checked against epochs', async () => {
      await store.save(GROUP, {}, { '0': 4 });
      await store.save(GROUP, { '0': '2' });
      expect(await store.load(GROUP)).toEqual({ '0': '2' });
    });

    if (durable) {
      it('keeps offsets and fences across close and reopen', async () => {
        if (!subject.reopen) throw new Error(`${name}: a durable store's factory must return reopen (or pass durable: false)`);
        await store.save(GROUP, { '0': '5' }, { '0': 2 });
        await store.close();
        const reopened = await subject.reopen();
        opened.push(reopened);
        expect(await reopened.load(GROUP)).toEqual({ '0': '5' });
        await leaseLost(() => reopened.save(GROUP, { '0': '6' }, { '0': 1 }), '0');
      });
    }
  });
}
