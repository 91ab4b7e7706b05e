import type { Position } from './position.js';

/**
 * The positions of the most recently acknowledged event ids, oldest evicted
 * first. Kafka and Kinesis keep no index of ids, so this is how a log
 * instance recognises an event it already wrote (a caller retrying a failed
 * append): the appender answers with the remembered position instead of
 * writing it again.
 *
 * @example
 * const window = new DedupeWindow(10_000);
 * window.remember(event.id, position);
 * window.get(event.id); // position
 */
export class DedupeWindow {
  private readonly positions = new Map<string, Position>();
  /** Ids in the order remembered, as a ring: the slot at `next` holds the oldest once full. */
  private readonly order: (string | undefined)[];
  private next = 0;

  constructor(private readonly capacity: number) {
    this.order = new Array(capacity);
  }

  get(id: string): Position | undefined {
    return this.positions.get(id);
  }

  remember(id: string, position: Position): void {
    if (this.capacity === 0 || this.positions.has(id)) return;
    const oldest = this.order[this.next];
    if (oldest !== undefined) this.positions.delete(oldest);
    this.order[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.positions.set(id, position);
  }

  get size(): number {
    return this.positions.size;
  }
}
