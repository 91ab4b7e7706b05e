import { byPartitionName } from './assignment.js';

/** What one process sees in one round of a {@link LeaseBalancer}. */
export interface ShareView {
  /** The partitions ready to be worked on (N). */
  readonly wanted: readonly string[];
  /** Live members of the group, this process included (M ≥ 1). */
  readonly members: number;
  /** Wanted partitions this process holds and keeps (not being handed back). */
  readonly mine: readonly string[];
  /** Wanted partitions this process is handing back: neither free nor ours. */
  readonly leaving?: readonly string[];
  /** Wanted partitions with a live lease of another owner: partition → owner. */
  readonly others: ReadonlyMap<string, string>;
  /** A steal is allowed this round (the membership seen has not changed for a renewal interval). */
  readonly maySteal: boolean;
}

/** What one process does in one round: at most one of hand back, or take (and perhaps steal one). */
export interface SharePlan {
  /** ⌊N/M⌋ */
  readonly low: number;
  /** ⌈N/M⌉ */
  readonly high: number;
  /** Ours above `high`, highest names first. */
  readonly handBack: readonly string[];
  /** Free partitions to take, in name order, up to `high`. */
  readonly take: readonly string[];
  /** One partition to take from the most loaded owner holding more than `low` (and at most `high`). */
  readonly steal?: { readonly partition: string; readonly from: string };
}

/**
 * The fair-share rules of the {@link LeaseBalancer}, as a pure function. With
 * N wanted partitions and M live members, `low = ⌊N/M⌋`, `high = ⌈N/M⌉`:
 *
 * 1. Holding more than `high`: hand back the surplus (highest names), nothing else.
 * 2. Otherwise take free partitions (no live lease of another owner), lowest
 *    names first, up to `high`.
 * 3. Still below `low` with nothing left free, and the membership stable:
 *    steal one partition, the highest-named one of the most loaded owner
 *    holding more than `low` but not more than `high` (ties: the smallest
 *    owner name). An owner above `high` is left alone: it hands back by
 *    rule 1, after finishing its in-flight work, and what it releases is free.
 *
 * Why it never flaps (N and M fixed): no rule takes anyone above `high` or
 * below `low` who was not already there. A taker stops at `high`; a process
 * hands back only down to `high`; a thief is below `low` and ends at most at
 * `low`, its victim held more than `low` and keeps at least `low`. So after
 * a steal neither side has a reason to move again, and the sum of shortfalls
 * Σ max(0, low − held) falls by one with each steal. Once every process
 * holds `low` or `high` (and every partition is held: N ≤ M·high) no rule
 * applies and nothing moves. Thieves that look at the same moment pick the
 * same lease (deterministic choice), so the store's compare-and-set lets one
 * win and the victim loses one partition, not two.
 *
 * @example
 * planShare({ wanted: ['0', '1', '2', '3'], members: 3, mine: [], others: new Map([['0', 'a'], ['1', 'a'], ['2', 'b'], ['3', 'b']]), maySteal: true });
 * // { low: 1, high: 2, handBack: [], take: [], steal: { partition: '1', from: 'a' } }
 */
export function planShare(view: ShareView): SharePlan {
  const n = view.wanted.length;
  const m = Math.max(1, view.members);
  const low = Math.floor(n / m);
  const high = Math.ceil(n / m);
  const mine = [...view.mine].sort(byPartitionName);
  if (mine.length > high) return { low, high, handBack: mine.slice(high).reverse(), take: [] };

  const busy = new Set([...mine, ...(view.leaving ?? [])]);
  const free = view.wanted.filter((partition) => !busy.has(partition) && !view.others.has(partition)).sort(byPartitionName);
  const take = free.slice(0, high - mine.length);
  if (mine.length + take.length >= low || take.length < free.length || !view.maySteal) return { low, high, handBack: [], take };

  const held = new Map<string, string[]>();
  for (const [partition, owner] of view.others) held.set(owner, [...(held.get(owner) ?? []), partition]);
  let victim: { owner: string; partitions: string[] } | undefined;
  for (const [owner, partitions] of held) {
    if (partitions.length <= low || partitions.length > high) continue;
    const better =
      !victim || partitions.length > victim.partitions.length || (partitions.length === victim.partitions.length && owner < victim.owner);
    if (better) victim = { owner, partitions };
  }
  if (!victim) return { low, high, handBack: [], take };
  const partition = victim.partitions.sort(byPartitionName)[victim.partitions.length - 1] as string;
  return { low, high, handBack: [], take, steal: { partition, from: victim.owner } };
}
