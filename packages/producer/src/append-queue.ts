import { type Envelope, type EventLog, type Position, RiverlogError } from '@riverlog/core';

/**
 * A call that was never appended because an earlier append of one of its
 * subjects failed: writing it now would put it ahead of the failed event
 * once the caller retries that. Nothing of the call was written; retry it
 * after the earlier events it follows (`cause` is the earlier failure).
 * Its code is `LOG_WRITE_FAILED`, like the failure it follows.
 *
 * @example
 * try {
 *   await producer.emit('cart/add', 'cart-1', data);
 * } catch (error) {
 *   if (error instanceof AppendNotAttemptedError) retryLater(error.subjects);
 * }
 */
export class AppendNotAttemptedError extends RiverlogError {
  /** The subjects whose earlier append failed, of those this call holds. */
  readonly subjects: readonly string[];
  constructor(subjects: readonly string[], cause: unknown) {
    const names = subjects.map((subject) => JSON.stringify(subject)).join(', ');
    super(
      'LOG_WRITE_FAILED',
      `Not written: an earlier append with subject ${names} failed, and this call would have overtaken it. Nothing of this call was written; retry it after the failed events, in order.`,
      { cause },
    );
    this.subjects = subjects;
  }
}

/** What an emit resolves to: the event's id (to resend it with the same id) and where it sits. */
export interface Emitted {
  readonly id: string;
  readonly position: Position;
}

/**
 * One emit call (`events` undefined: it settles with one {@link Emitted}) or
 * one emitMany call (settles with one per event), and how to settle it.
 */
interface Call {
  readonly event: Envelope | undefined;
  readonly events: readonly Envelope[] | undefined;
  readonly count: number;
  // biome-ignore lint/suspicious/noExplicitAny: an Emitted for emit, an Emitted[] for emitMany
  readonly resolve: (result: any) => void;
  readonly reject: (error: unknown) => void;
}

export interface AppendQueueOptions {
  readonly log: EventLog;
  /** Most events gathered from several calls into one append. */
  readonly batchSize: number;
  /** Milliseconds to wait for more calls before appending; 0 = the next turn of the event loop. */
  readonly linger: number;
  /** Most events accepted and not yet acknowledged before calls wait for room. */
  readonly maxPending: number;
}

/**
 * Gathers validated events from many calls into batches and appends them
 * strictly one batch after another, in the order the calls arrived, so
 * per-subject order is kept. Each call settles with its own positions.
 *
 * A failed append rejects the calls in that batch with its error, and every
 * call still queued (or waiting for room) that holds an event of one of the
 * failed batch's subjects with {@link AppendNotAttemptedError}: written now,
 * it would land before the failed events the caller is about to retry.
 * Such a failed call's other subjects count as failed too, for the calls
 * queued after it. Calls made once the failure is reported go through.
 */
export class AppendQueue {
  private readonly queue = new Fifo<Call>();
  /** Calls refused room by `maxPending`, first come first admitted. */
  private readonly waiting = new Fifo<Call>();
  private queuedEvents = 0;
  private waitingEvents = 0;
  private inFlightEvents = 0;
  private appending = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: AppendQueueOptions) {}

  /** Events accepted and not yet acknowledged: queued or being appended. */
  get pending(): number {
    return this.queuedEvents + this.inFlightEvents;
  }

  /** Events of calls waiting for room because `maxPending` was reached. */
  get blocked(): number {
    return this.waitingEvents;
  }

  /** Queues one event; `resolve` gets its id and position. */
  submitOne(event: Envelope, resolve: (emitted: Emitted) => void, reject: (error: unknown) => void): void {
    this.submit({ event, events: undefined, count: 1, resolve, reject });
  }

  /** Queues the events of one call, kept together in one append; `resolve` gets their ids and positions in order. */
  submitMany(events: readonly Envelope[], resolve: (emitted: Emitted[]) => void, reject: (error: unknown) => void): void {
    this.submit({ event: undefined, events, count: events.length, resolve, reject });
  }

  private submit(call: Call): void {
    if (this.waiting.length > 0 || !this.hasRoomFor(call.count)) {
      this.waiting.push(call);
      this.waitingEvents += call.count;
      return;
    }
    this.enqueue(call);
  }

  /** Appends everything accepted so far without lingering; resolves once all of it has settled. */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.cancelSchedule();
    if (!this.appending) void this.appendNextBatch(true);
    return done;
  }

  private hasRoomFor(count: number): boolean {
    const pending = this.pending;
    // A call larger than maxPending is let in alone, or it would wait forever.
    return pending === 0 || pending + count <= this.options.maxPending;
  }

  private enqueue(call: Call): void {
    this.queue.push(call);
    this.queuedEvents += call.count;
    this.schedule();
  }

  private schedule(): void {
    if (this.appending) return; // the running append picks the queue up when it ends
    if (this.queuedEvents >= this.options.batchSize) {
      this.cancelSchedule();
      void this.appendNextBatch(false);
      return;
    }
    if (this.timer !== undefined || this.immediate !== undefined) return;
    if (this.options.linger > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.appending) void this.appendNextBatch(false);
      }, this.options.linger);
    } else {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        if (!this.appending) void this.appendNextBatch(false);
      });
    }
  }

  private cancelSchedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Takes whole calls up to batchSize events (at least one call) and appends them. */
  private async appendNextBatch(flushing: boolean): Promise<void> {
    if (this.queue.length === 0) {
      this.settleIdle();
      return;
    }
    this.appending = true;
    const calls: Call[] = [];
    const events: Envelope[] = [];
    while (this.queue.length > 0) {
      const next = this.queue.peek() as Call;
      if (calls.length > 0 && events.length + next.count > this.options.batchSize) break;
      this.queue.take();
      calls.push(next);
      if (next.events === undefined) events.push(next.event as Envelope);
      else for (const event of next.events) events.push(event);
    }
    this.queuedEvents -= events.length;
    this.inFlightEvents = events.length;

    try {
      const positions = await this.options.log.append(events);
      if (positions.length !== events.length) {
        throw new RiverlogError(
          'APPEND_MISMATCH',
          `${this.options.log.uri}: append returned ${positions.length} positions for ${events.length} events; the log is faulty.`,
        );
      }
      let start = 0;
      for (const call of calls) {
        if (call.events === undefined) call.resolve({ id: (call.event as Envelope).id, position: positions[start] });
        else call.resolve(call.events.map((event, index) => ({ id: event.id, position: positions[start + index] })));
        start += call.count;
      }
    } catch (error) {
      for (const call of calls) call.reject(error);
      this.failFollowers(calls, error);
    }

    this.inFlightEvents = 0;
    this.appending = false;
    this.admitWaiting();
    if (this.queue.length === 0) this.settleIdle();
    else if (flushing || this.idleWaiters.length > 0) void this.appendNextBatch(true);
    else this.schedule();
  }

  /**
   * Fails the queued and waiting calls that share a subject with the failed
   * calls (or with a call failed here before them), in arrival order.
   */
  private failFollowers(failed: readonly Call[], error: unknown): void {
    const subjects = new Set<string>();
    for (const call of failed) for (const event of eventsOf(call)) subjects.add(event.subject);
    const keep = (call: Call): boolean => {
      const held = eventsOf(call).filter((event) => subjects.has(event.subject));
      if (held.length === 0) return true;
      for (const event of eventsOf(call)) subjects.add(event.subject);
      call.reject(new AppendNotAttemptedError([...new Set(held.map((event) => event.subject))], error));
      return false;
    };
    const queued = this.queue.drain();
    for (const call of queued) {
      if (keep(call)) this.queue.push(call);
      else this.queuedEvents -= call.count;
    }
    const waiting = this.waiting.drain();
    for (const call of waiting) {
      if (keep(call)) this.waiting.push(call);
      else this.waitingEvents -= call.count;
    }
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting.peek() as Call;
      if (!this.hasRoomFor(next.count)) return;
      this.waiting.take();
      this.waitingEvents -= next.count;
      this.queue.push(next);
      this.queuedEvents += next.count;
    }
  }

  private isIdle(): boolean {
    return !this.appending && this.queue.length === 0 && this.waiting.length === 0;
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function eventsOf(call: Call): readonly Envelope[] {
  return call.events ?? [call.event as Envelope];
}

/** A first-in first-out list whose take is O(1): Array#shift copies the rest of a long array. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Takes every item, in order, leaving the list empty. */
  drain(): T[] {
    const items = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return items;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  take(): T | undefined {
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
