import type { Position } from '@riverlog/core';

/**
 * The positions of the most recently acknowledged event ids, oldest evicted
 * first. Kinesis keeps no index of ids: this is how a log instance
 * recognises an event it already wrote (a caller retrying a failed append).
 */
export class DedupeWindow {
  private readonly positions = new Map<string, Position>();

  constructor(private readonly capacity: number) {}

  get(id: string): Position | undefined {
    return this.positions.get(id);
  }

  remember(id: string, position: Position): void {
    if (this.capacity === 0 || this.positions.has(id)) return;
    if (this.positions.size >= this.capacity) {
      // A Map iterates in insertion order: the first key is the oldest.
      const oldest = this.positions.keys().next().value as string;
      this.positions.delete(oldest);
    }
    this.positions.set(id, position);
  }
}
