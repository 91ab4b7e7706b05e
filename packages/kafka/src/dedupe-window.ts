import type { Position } from '@riverlog/core';

/**
 * The positions of the most recently acknowledged event ids, oldest evicted
 * first. Kafka itself keeps no index of ids, so this is how a log instance
 * recognises an event it already wrote (e.g. a retried append).
 */
export class DedupeWindow {
  private readonly positions = new Map<string, Position>();

  constructor(private readonly capacity: number) {}

  get(id: string): Position | undefined {
    return this.positions.get(id);
  }

  remember(id: string, position: Position): void {
    if (this.capacity === 0) return;
    this.positions.delete(id);
    this.positions.set(id, position);
    if (this.positions.size > this.capacity) {
      const oldest = this.positions.keys().next();
      if (!oldest.done) this.positions.delete(oldest.value);
    }
  }

  get size(): number {
    return this.positions.size;
  }
}
