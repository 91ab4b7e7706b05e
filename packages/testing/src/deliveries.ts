import type { GivenItem } from './given.js';
import type { Delivery } from './scripted-log.js';

/** Each event once, in the order given, each partition's offsets from 0. */
export function inOrder(items: readonly GivenItem[], partitionOf: (item: GivenItem) => string): Delivery[] {
  const next = new Map<string, number>();
  return items.map((item) => {
    const partition = partitionOf(item);
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    return { number: item.number, event: item.event, partition, offset: String(offset) };
  });
}

/** The partitions of a script, in the order they first appear. */
export function partitionsOf(deliveries: readonly Delivery[]): string[] {
  return [...new Set(deliveries.map((d) => d.partition))];
}

/** A copy of `delivery` appended again (same id) after the last offset its partition has in `script`. */
function appendedAnew(script: readonly Delivery[], delivery: Delivery): Delivery {
  let end = -1;
  for (const d of script) if (d.partition === delivery.partition) end = Math.max(end, Number(d.offset));
  return { ...delivery, offset: String(end + 1), again: 'new-position' };
}

/**
 * Every event delivered twice: at once again at the same position (a
 * redelivery: a lost acknowledgement, a rebalance, a restart from an older
 * checkpoint), and once more appended anew with the same id after its
 * partition's last event (a producer's retry), so the id window must absorb it.
 */
export function deliveredTwice(script: readonly Delivery[]): Delivery[] {
  const out: Delivery[] = [];
  for (const delivery of script) out.push(delivery, { ...delivery, again: 'same-position' });
  for (const delivery of script) out.push(appendedAnew(out, delivery));
  return out;
}

/** The script with one event delivered again: at the same position, or appended anew. */
export function withOneAgain(script: readonly Delivery[], index: number, how: 'same-position' | 'new-position'): Delivery[] {
  const delivery = script[index] as Delivery;
  if (how === 'new-position') return [...script, appendedAnew(script, delivery)];
  return [...script.slice(0, index + 1), { ...delivery, again: 'same-position' }, ...script.slice(index + 1)];
}

/** Whole partitions one after another, the partition given last first: each partition keeps its order. */
export function partitionsReversed(script: readonly Delivery[]): Delivery[] {
  return partitionsOf(script)
    .reverse()
    .flatMap((partition) => script.filter((d) => d.partition === partition));
}

/** Whole partitions one after another, the partition of the last event first, then by their last event, latest first. */
export function partitionsLatestFirst(script: readonly Delivery[]): Delivery[] {
  const lastAt = new Map<string, number>();
  for (const [i, d] of script.entries()) lastAt.set(d.partition, i);
  return [...lastAt.entries()].sort((a, b) => b[1] - a[1]).flatMap(([partition]) => script.filter((d) => d.partition === partition));
}

/** A seeded random merge of the partitions that keeps each partition's order (mulberry32). */
export function shuffled(script: readonly Delivery[], seed: number): Delivery[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const queues = partitionsOf(script).map((partition) => script.filter((d) => d.partition === partition));
  const out: Delivery[] = [];
  for (;;) {
    const open = queues.filter((queue) => queue.length > 0);
    if (open.length === 0) return out;
    out.push((open[Math.floor(random() * open.length)] as Delivery[]).shift() as Delivery);
  }
}

/** Whether two scripts deliver the same events at the same positions in the same order. */
export function sameOrder(a: readonly Delivery[], b: readonly Delivery[]): boolean {
  return a.length === b.length && a.every((d, i) => d.partition === b[i]?.partition && d.offset === b[i]?.offset);
}
