import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalAssignment, type LocalAssignmentOptions } from './assignment-local.js';

const running: LocalAssignment[] = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((assignment) => assignment.stop()));
});

function local(options: Partial<LocalAssignmentOptions> & Pick<LocalAssignmentOptions, 'partitions'>) {
  const events: string[] = [];
  const assignment = new LocalAssignment({
    pollMs: 10,
    acquired: (partition, epoch) => {
      events.push(`acquired ${partition} ${epoch}`);
    },
    lost: (partition) => {
      events.push(`lost ${partition}`);
    },
    handBack: async (partition) => {
      events.push(`handBack ${partition}`);
    },
    ...options,
  });
  running.push(assignment);
  return { assignment, events };
}

describe('LocalAssignment', () => {
  it('owns every listed partition at epoch 0, with no fence, and picks up new ones', async () => {
    let listed = ['0', '1'];
    const { assignment, events } = local({ partitions: async () => listed });
    await assignment.start();
    expect(events).toEqual(['acquired 0 0', 'acquired 1 0']);
    expect(assignment.owned()).toEqual(['0', '1']);
    expect(assignment.holds('1')).toBe(true);
    expect(assignment.fence(['0', '1'])).toEqual({});
    listed = ['0', '1', '10', '2'];
    await vi.waitFor(() => expect(assignment.owned()).toEqual(['0', '1', '2', '10']), { timeout: 2_000, interval: 5 });
  });

  it('hands back a partition no longer listed, and never acquires a finished one again', async () => {
    let listed = ['0', '1', '2'];
    const { assignment, events } = local({ partitions: async () => listed });
    await assignment.start();
    await assignment.finished('2');
    expect(assignment.holds('2')).toBe(false);
    listed = ['0', '2'];
    await vi.waitFor(() => expect(assignment.owned()).toEqual(['0']), { timeout: 2_000, interval: 5 });
    expect(events).toEqual(['acquired 0 0', 'acquired 1 0', 'acquired 2 0', 'handBack 1']);
  });

  it('refresh() polls now, not at the next pollMs; during a poll it polls once more after it, shared by the callers', async () => {
    let listed = ['0'];
    let calls = 0;
    let gate: Promise<void> | undefined;
    const { assignment } = local({
      pollMs: 600_000,
      partitions: async () => {
        calls++;
        const seen = listed;
        await gate;
        return seen;
      },
    });
    await assignment.start();
    expect(calls).toBe(1);
    listed = ['0', '1'];
    await assignment.refresh();
    expect(calls).toBe(2);
    expect(assignment.owned()).toEqual(['0', '1']);
    // A poll under way listed the partitions before '2' was ready: the refresh polls again after it.
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const underWay = assignment.refresh();
    listed = ['0', '1', '2'];
    const first = assignment.refresh();
    const second = assignment.refresh();
    gate = undefined;
    open();
    await Promise.all([underWay, first, second]);
    expect(calls).toBe(4);
    expect(assignment.owned()).toEqual(['0', '1', '2']);
    await assignment.halt();
    await assignment.refresh();
    expect(calls).toBe(4);
  });

  it('reports a failing partition list to onError and tries again', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const { assignment } = local({
      partitions: async () => {
        calls++;
        if (calls === 1) throw new Error('log unavailable');
        return ['0'];
      },
      onError: (error) => errors.push(error),
    });
    await assignment.start();
    expect(errors).toHaveLength(1);
    await vi.waitFor(() => expect(assignment.owned()).toEqual(['0']), { timeout: 2_000, interval: 5 });
  });

  it('stop() waits for hand-backs under way and gives up everything', async () => {
    let listed = ['0'];
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const handingBack: string[] = [];
    const { assignment } = local({
      partitions: async () => listed,
      handBack: (partition) => {
        handingBack.push(partition);
        return finishing;
      },
    });
    await assignment.start();
    listed = [];
    await vi.waitFor(() => expect(handingBack).toEqual(['0']), { timeout: 2_000, interval: 5 });
    expect(assignment.holds('0')).toBe(true);
    let stopped = false;
    const stopping = assignment.stop().then(() => {
      stopped = true;
    });
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(assignment.owned()).toEqual([]);
  });
});
