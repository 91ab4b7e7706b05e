import { describe, expect, it } from 'vitest';
import { planShare } from './fair-share.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => String(i));

/** Who holds what, and one round of every member applying its plan in turn (each seeing the others' current holdings). */
class Model {
  readonly holder = new Map<string, string>();
  constructor(
    readonly partitions: string[],
    readonly members: string[],
  ) {}

  held(member: string): string[] {
    return this.partitions.filter((partition) => this.holder.get(partition) === member);
  }

  /** One round; returns how many leases changed hands or were taken or released. */
  round(order: readonly string[]): number {
    let moves = 0;
    for (const member of order) {
      const others = new Map([...this.holder].filter(([, owner]) => owner !== member));
      const plan = planShare({ wanted: this.partitions, members: this.members.length, mine: this.held(member), others, maySteal: true });
      for (const partition of plan.handBack) this.holder.delete(partition);
      for (const partition of plan.take) this.holder.set(partition, member);
      if (plan.steal) this.holder.set(plan.steal.partition, member);
      moves += plan.handBack.length + plan.take.length + (plan.steal ? 1 : 0);
    }
    return moves;
  }

  fair(): boolean {
    const low = Math.floor(this.partitions.length / this.members.length);
    const high = Math.ceil(this.partitions.length / this.members.length);
    return (
      this.holder.size === this.partitions.length && this.members.every((m) => this.held(m).length >= low && this.held(m).length <= high)
    );
  }
}

/** A small deterministic random source (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('planShare', () => {
  it('4 over 3 held 2/2/0: the empty member steals the highest partition of the smallest-named most loaded owner', () => {
    const others = new Map([
      ['0', 'a'],
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'b'],
    ]);
    expect(planShare({ wanted: names(4), members: 3, mine: [], others, maySteal: true })).toEqual({
      low: 1,
      high: 2,
      handBack: [],
      take: [],
      steal: { partition: '1', from: 'a' },
    });
    // Not before the membership is stable.
    expect(planShare({ wanted: names(4), members: 3, mine: [], others, maySteal: false }).steal).toBeUndefined();
  });

  it('hands back the highest names above ⌈N/M⌉ and does nothing else that round', () => {
    expect(planShare({ wanted: names(12), members: 4, mine: names(12), others: new Map(), maySteal: true })).toEqual({
      low: 3,
      high: 3,
      handBack: ['11', '10', '9', '8', '7', '6', '5', '4', '3'],
      take: [],
    });
  });

  it('takes free partitions (lowest names first) up to ⌈N/M⌉, never one another holds or one it hands back', () => {
    const plan = planShare({ wanted: names(6), members: 2, mine: ['5'], leaving: ['0'], others: new Map([['1', 'b']]), maySteal: true });
    expect(plan.take).toEqual(['2', '3']);
    expect(plan.steal).toBeUndefined();
  });

  it('never steals from an owner above ⌈N/M⌉ (it hands back by itself) nor from one at ⌊N/M⌋', () => {
    const others = new Map([...names(4).map((p) => [p, 'a'] as const), ['4', 'b'], ['5', 'b']]);
    // 6 over 3: low = high = 2; a holds 4 (above high), b holds 2 (at low).
    expect(planShare({ wanted: names(6), members: 3, mine: [], others, maySteal: true }).steal).toBeUndefined();
  });

  it('from any start, every member ends with ⌊N/M⌋ or ⌈N/M⌉, and then nothing moves (no flapping)', () => {
    const next = random(8);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(next() * 30);
      const m = 1 + Math.floor(next() * 8);
      const model = new Model(
        names(n),
        names(m).map((i) => `m${i}`),
      );
      for (const partition of model.partitions) {
        const pick = Math.floor(next() * (m + 1));
        if (pick < m) model.holder.set(partition, `m${pick}`);
      }
      const shuffled = () => [...model.members].sort(() => next() - 0.5);
      let rounds = 0;
      while (model.round(shuffled()) > 0) {
        rounds++;
        expect(rounds, `${n} partitions over ${m} members did not settle`).toBeLessThanOrEqual(n + 2);
      }
      expect(model.fair(), `${n} over ${m}: ${model.members.map((x) => model.held(x).length)}`).toBe(true);
      for (let more = 0; more < 3; more++) expect(model.round(shuffled())).toBe(0);
    }
  });
});
