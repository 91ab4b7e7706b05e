/**
 * A hand-over point between a push-based producer (kafkajs's `eachBatch`)
 * and a pull-based reader (an async iterator): `push` resolves once the reader
 * took the item, so the producer never runs ahead.
 */
export class Channel<T> {
  private readonly items: { item: T; taken: (accepted: boolean) => void }[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;

  /** Resolves true once the reader took `item`, false if the channel ended first. */
  push(item: T): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    return new Promise((taken) => {
      this.items.push({ item, taken });
      this.wake();
    });
  }

  /** No more items; the reader finishes after those already pushed, or throws `error`. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    this.wake();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The next item, or `undefined` once ended and drained. Items pushed before a failure are dropped. */
  async pull(): Promise<T | undefined> {
    for (;;) {
      if (this.failure) {
        this.drop();
        throw this.failure.error;
      }
      const next = this.items.shift();
      if (next) {
        next.taken(true);
        return next.item;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  /** Refuses everything still queued (their pushers get false). */
  drop(): void {
    for (const { taken } of this.items.splice(0)) taken(false);
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
