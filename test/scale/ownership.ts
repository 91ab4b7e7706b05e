// Who owned which partition when, as the builders themselves reported it
// (`own` facts, sampled from each runner's status on the machine's clock), and
// where two processes claimed the same partition at the same time.
import type { Fact } from './support.js';

/** One process's ownership of one partition: from `from` until `to` (ms, machine clock). */
export interface Tenure {
  readonly owner: string;
  readonly partition: string;
  readonly from: number;
  readonly to: number;
}

/** Two processes owning one partition at once, for `ms`. */
export interface Overlap {
  readonly partition: string;
  readonly first: Tenure;
  readonly second: Tenure;
  readonly ms: number;
}

/**
 * Every tenure the `own` facts show. A tenure still open at a builder's last
 * fact ends when it ended (`ended`: when it was killed or stopped), or at its
 * last fact when that is unknown.
 */
export function tenures(journal: readonly Fact[], ended: ReadonlyMap<string, number>): Tenure[] {
  const out: Tenure[] = [];
  const open = new Map<string, Map<string, number>>();
  const last = new Map<string, number>();
  for (const fact of journal) {
    if (fact.word !== 'own') continue;
    const t = fact.data.t as number;
    last.set(fact.owner, t);
    const held = open.get(fact.owner) ?? new Map<string, number>();
    open.set(fact.owner, held);
    const now = new Set(Object.keys(fact.data.partitions as Record<string, unknown>));
    for (const [partition, from] of held) {
      if (now.has(partition)) continue;
      out.push({ owner: fact.owner, partition, from, to: t });
      held.delete(partition);
    }
    for (const partition of now) if (!held.has(partition)) held.set(partition, t);
  }
  for (const [owner, held] of open) {
    const to = ended.get(owner) ?? last.get(owner) ?? 0;
    for (const [partition, from] of held) out.push({ owner, partition, from, to: Math.max(from, to) });
  }
  return out;
}

/** Every time two processes owned one partition at once, longest first. */
export function ownershipOverlaps(journal: readonly Fact[], ended: ReadonlyMap<string, number>): Overlap[] {
  const all = tenures(journal, ended);
  const overlaps: Overlap[] = [];
  for (let i = 0; i < all.length; i++) {
    const first = all[i] as Tenure;
    for (let j = i + 1; j < all.length; j++) {
      const second = all[j] as Tenure;
      if (second.partition !== first.partition || second.owner === first.owner) continue;
      const ms = Math.min(first.to, second.to) - Math.max(first.from, second.from);
      if (ms > 0) overlaps.push({ partition: first.partition, first, second, ms });
    }
  }
  return overlaps.sort((a, b) => b.ms - a.ms);
}
