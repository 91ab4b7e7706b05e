import type { ConsumerHandlers, HandlerRetryOptions } from '@riverlog/consumer';
import { createConsumer } from '@riverlog/consumer';
import type { DeadLetter, Envelope, EventLog, Position, PositionMap, StoredEvent, ViewStore } from '@riverlog/core';
import { memoryCheckpointStore, memoryDeadLetters, memoryLog, memoryViewStore, readEnds } from '@riverlog/core';
import { type AnyView, runView, type ViewRunner } from '@riverlog/view-builder';
import { type AnyCatalog, type GivenEvent, type GivenItem, toItems } from './given.js';
import { checkSpecOptions } from './spec-options.js';
import { SpecAssertionError, show, valueDiff } from './spec-report.js';

/** What the handlers of a spec may use: the log the events are in (append to it to emit), and the store its views are built in. */
export interface HandlerWiring {
  readonly log: EventLog;
  readonly store: ViewStore;
}

/** Options of {@link handlerSpec}. */
export interface HandlerSpecOptions<C extends AnyCatalog> {
  readonly catalog: C;
  /**
   * The handler map you pass to `createConsumer`, or a function of the
   * spec's log and store that makes it (for handlers that emit events or
   * read views).
   */
  readonly handlers: ConsumerHandlers<C> | ((wiring: HandlerWiring) => ConsumerHandlers<C>);
  /** The consumer's `retry`. The tries are yours (default 5, as the consumer's); the waits default to 1–5 ms so a spec runs fast. */
  readonly retry?: HandlerRetryOptions;
  /** Views built beside the consumer, on the same log and store (e.g. one the handlers read). */
  readonly views?: readonly AnyView[];
  /** The consumer's `unknownTypes`. */
  readonly unknownTypes?: 'dead-letter' | 'ignore';
  /** The consumer's `onUnreadable`. */
  readonly onUnreadable?: 'stop' | 'dead-letter';
  /** Partitions of the memory log the events are appended to (a subject's partition by its hash, as on every log). Default 4. */
  readonly partitions?: number;
  /** How long handling everything may take. Default 10,000 ms. */
  readonly timeoutMs?: number;
}

/** What became of an event: handled, ignored (`ignore` in the map), dead-lettered, or not handled (its partition stopped before it). */
export type OutcomeKind = 'handled' | 'ignored' | 'dead-lettered' | 'not handled';

/** What became of one given event. */
export interface HandlerOutcome {
  /** The event's number among those given, from 1. */
  readonly number: number;
  readonly event: StoredEvent;
  readonly position: Position;
  readonly outcome: OutcomeKind;
  /** Tries of its handler (0 when none ran). */
  readonly attempts: number;
  /** The dead letter's code, e.g. `HANDLER_FAILED`, `UNKNOWN_EVENT_TYPE`. */
  readonly code?: string;
  readonly reason?: string;
  /** The message of each failed try, in order. */
  readonly errors: readonly string[];
}

/** What handling the given events did. */
export interface HandlerRun {
  /** One per given event, in the order given. */
  readonly outcomes: readonly HandlerOutcome[];
  /** Events the handlers appended to the log, in the order appended (an id appended again counted once). */
  readonly emitted: readonly Envelope[];
  readonly deadLetters: readonly DeadLetter[];
  /** The outcomes as lines: `event #3 product/purchase "p1" at 0@2: dead-lettered with HANDLER_FAILED after 3 attempts (…)`. */
  readonly summary: readonly string[];
}

/**
 * An expected outcome: `'handled'`, `'ignored'`, `'dead-lettered'`,
 * `'dead-lettered HANDLER_FAILED'` (with its code), `'not handled'`, or an
 * object naming what to check.
 */
export type ExpectedOutcome =
  | OutcomeKind
  | `dead-lettered ${string}`
  | { readonly outcome?: OutcomeKind; readonly attempts?: number; readonly code?: string };

/** An emitted event to find: the fields given must be equal (data compared whole). */
export type EmittedMatch = Partial<Pick<Envelope, 'type' | 'subject' | 'source' | 'id' | 'causationid' | 'correlationid'>> & {
  readonly data?: unknown;
};

/** Given events, handled by the spec's handler map: say what should come of them. */
export interface HandlerScenario {
  /**
   * Checks what became of each event: a list (one per event given, in
   * order) or an object by event number (from 1) for some of them.
   *
   * @example
   * await spec.given(created, purchase, refund).thenOutcomes(['handled', 'ignored', 'dead-lettered HANDLER_FAILED']);
   * await spec.given(created, purchase, refund).thenOutcomes({ 3: { outcome: 'dead-lettered', attempts: 3 } });
   */
  thenOutcomes(expected: readonly ExpectedOutcome[] | Readonly<Record<number, ExpectedOutcome>>): Promise<HandlerRun>;
  /**
   * Checks the events the handlers appended: each expected one matches a
   * different emitted event (in any order) and no other was emitted; or
   * `expected` (a check function, awaited when async) passes: `false` or a throw fails.
   *
   * @example
   * await spec.given(created).thenEmitted([{ type: 'photo/assigned', subject: 'p1', data: { id: 'p1', photographer: 'pia' } }]);
   */
  thenEmitted(expected: readonly EmittedMatch[] | ((emitted: readonly Envelope[]) => unknown)): Promise<HandlerRun>;
  /** Handles the events and resolves with what happened, for your own assertions (your handlers' effects too). */
  run(): Promise<HandlerRun>;
}

/** A handler map under test: give it events. */
export interface HandlerSpecBuilder<C extends AnyCatalog> {
  /**
   * The events to handle, appended in this order: envelopes,
   * `{ event, partition }` (the partition is chosen by subject here; it is
   * ignored) or `{ type, subject, data, …meta }`.
   *
   * @example
   * spec.given({ type: 'product/create', subject: 'p1', data: { id: 'p1', name: 'Boot' } });
   */
  given(...events: readonly (GivenEvent<C> | readonly GivenEvent<C>[])[]): HandlerScenario;
}

const where = (position: Position) => `${position.partition}@${position.offset}`;

/**
 * A given/when/then specification of a consumer's handlers: given events,
 * when handled by the handler map you pass to `createConsumer` — through the
 * real consumer, on a memory log, with your retry tries (short waits) and a
 * memory dead-letter sink — then these outcomes (handled, ignored,
 * dead-lettered with a code after N tries) and these emitted events. Your
 * handlers' own effects you check after it resolves. A failure is a
 * {@link SpecAssertionError} listing every event's outcome, e.g.
 * `event #3 product/purchase "p1" at 2@0: dead-lettered with HANDLER_FAILED after 3 attempts (payment down)`.
 *
 * @example
 * const sent: string[] = [];
 * const spec = handlerSpec({
 *   catalog,
 *   retry: { attempts: 3 },
 *   handlers: {
 *     'product/create': ignore,
 *     'product/purchase': async (event) => {
 *       if (event.data.id === 'p-broken') throw new Error('mailer down');
 *       sent.push(event.data.id);
 *     },
 *   },
 * });
 * await spec.given(purchase('p1'), purchase('p-broken')).thenOutcomes(['handled', 'dead-lettered HANDLER_FAILED']);
 * expect(sent).toEqual(['p1']);
 */
export function handlerSpec<C extends AnyCatalog>(options: HandlerSpecOptions<C>): HandlerSpecBuilder<C> {
  checkSpecOptions(
    'handlerSpec',
    options,
    ['catalog', 'handlers', 'retry', 'views', 'unknownTypes', 'onUnreadable', 'partitions', 'timeoutMs'],
    { partitions: 1, timeoutMs: 1 },
  );
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    given(...events) {
      const items = toItems(options.catalog, events.flat() as unknown[]);
      let running: Promise<HandlerRun> | undefined;
      const run = () => {
        running ??= handle(options, items, timeoutMs);
        return running;
      };
      return {
        run,
        async thenOutcomes(expected) {
          const result = await run();
          const entries: [number, ExpectedOutcome][] = Array.isArray(expected)
            ? (expected as readonly ExpectedOutcome[]).map((e, i) => [i + 1, e])
            : Object.entries(expected as Record<number, ExpectedOutcome>).map(([n, e]) => [Number(n), e]);
          const problems: string[] = [];
          if (Array.isArray(expected) && expected.length !== items.length) {
            problems.push(`  ${expected.length} outcomes expected for ${items.length} events given.`);
          }
          for (const [number, wanted] of entries) {
            const outcome = result.outcomes[number - 1];
            if (!outcome) problems.push(`  event #${number}: no such event (${items.length} given).`);
            else if (!matches(outcome, wanted))
              problems.push(`  event #${number}: expected ${describeExpected(wanted)}, got ${describe(outcome)}`);
          }
          if (problems.length > 0) throw fail(result, 'the outcomes are not as expected:', problems);
          return result;
        },
        async thenEmitted(expected) {
          const result = await run();
          if (typeof expected === 'function') {
            let outcome: unknown;
            try {
              // Awaited: an async check's promise would otherwise pass whatever it settles to.
              outcome = await expected(result.emitted);
            } catch (error) {
              throw fail(result, `the check of the emitted events threw: ${(error as Error)?.message ?? String(error)}`, []);
            }
            if (outcome === false) throw fail(result, 'the check of the emitted events returned false.', []);
            return result;
          }
          const left = [...result.emitted];
          const missing: string[] = [];
          for (const wanted of expected) {
            const at = left.findIndex((event) => emittedMatches(event, wanted));
            if (at < 0) missing.push(`  not emitted: ${show(wanted, 400)}${closest(result.emitted, wanted)}`);
            else left.splice(at, 1);
          }
          const extra = left.map((event) => `  emitted, not expected: ${show(short(event), 400)}`);
          if (missing.length + extra.length > 0) {
            throw fail(result, 'the emitted events are not as expected:', [...missing, ...extra], {
              expected,
              actual: result.emitted.map(short),
            });
          }
          return result;
        },
      };
    },
  };
}

function fail(result: HandlerRun, what: string, details: readonly string[], compared?: { expected: unknown; actual: unknown }) {
  return new SpecAssertionError({
    run: 'handled',
    message: [
      `handlerSpec: ${what}`,
      ...details,
      'What became of each event given:',
      ...result.summary.map((line) => `  ${line}`),
      `Emitted (${result.emitted.length}):`,
      ...result.emitted.map((event) => `  ${show(short(event), 400)}`),
    ].join('\n'),
    ...(compared ?? {}),
  });
}

/** An envelope's fields worth reading in a message. */
function short(event: Envelope): EmittedMatch {
  return {
    type: event.type,
    subject: event.subject,
    data: event.data,
    ...(event.causationid ? { causationid: event.causationid } : {}),
  };
}

function emittedMatches(event: Envelope, wanted: EmittedMatch): boolean {
  return Object.entries(wanted).every(
    ([field, value]) => JSON.stringify((event as unknown as Record<string, unknown>)[field]) === JSON.stringify(value),
  );
}

/** How the emitted event of the same type and subject differs, if there is one. */
function closest(emitted: readonly Envelope[], wanted: EmittedMatch): string {
  const near = emitted.find((event) => event.type === wanted.type && (wanted.subject === undefined || event.subject === wanted.subject));
  if (!near) return '';
  const fields = Object.fromEntries(Object.keys(wanted).map((field) => [field, (near as unknown as Record<string, unknown>)[field]]));
  return `; the closest emitted differs at ${valueDiff(wanted, fields).join('; ')}`;
}

function matches(outcome: HandlerOutcome, wanted: ExpectedOutcome): boolean {
  if (typeof wanted === 'string') {
    if (wanted.startsWith('dead-lettered '))
      return outcome.outcome === 'dead-lettered' && outcome.code === wanted.slice('dead-lettered '.length);
    return outcome.outcome === wanted;
  }
  return (
    (wanted.outcome === undefined || wanted.outcome === outcome.outcome) &&
    (wanted.attempts === undefined || wanted.attempts === outcome.attempts) &&
    (wanted.code === undefined || wanted.code === outcome.code)
  );
}

function describeExpected(wanted: ExpectedOutcome): string {
  if (typeof wanted === 'string') return wanted.replace(/^dead-lettered (\S+)$/, 'dead-lettered with $1');
  const parts = [wanted.outcome ?? 'any outcome'];
  if (wanted.code !== undefined) parts.push(`with ${wanted.code}`);
  if (wanted.attempts !== undefined) parts.push(`after ${wanted.attempts} attempt${wanted.attempts === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** One outcome in words. */
function describe(outcome: HandlerOutcome): string {
  const tries = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;
  const last = outcome.errors.at(-1);
  switch (outcome.outcome) {
    case 'handled':
      return outcome.attempts > 1 ? `handled after ${tries(outcome.attempts)} (failed first: ${outcome.errors.join('; ')})` : 'handled';
    case 'dead-lettered':
      return `dead-lettered with ${outcome.code}${outcome.attempts > 0 ? ` after ${tries(outcome.attempts)}` : ''} (${last ?? outcome.reason})`;
    case 'not handled':
      return `not handled${outcome.reason ? ` (${outcome.reason})` : ''}`;
    default:
      return outcome.outcome;
  }
}

/** Appends the events to a memory log and handles them with a real consumer (and the views), until nothing more happens. */
async function handle<C extends AnyCatalog>(
  options: HandlerSpecOptions<C>,
  items: readonly GivenItem[],
  timeoutMs: number,
): Promise<HandlerRun> {
  const memory = memoryLog({ partitions: options.partitions ?? 4 });
  const store = memoryViewStore();
  const deadLetters = memoryDeadLetters();
  const positions = await memory.append(items.map((item) => item.event as Envelope));
  const given = new Set(items.map((item) => item.event.id));
  const emitted = new Map<string, Envelope>();
  const log: EventLog = {
    uri: memory.uri,
    maxEventBytes: memory.maxEventBytes,
    read: (o) => memory.read(o),
    partitions: () => memory.partitions(),
    close: async () => {},
    async append(events) {
      const at = await memory.append(events);
      for (const event of events) if (!given.has(event.id) && !emitted.has(event.id)) emitted.set(event.id, event);
      return at;
    },
  };
  const numbers = new Map<string, number>();
  positions.forEach((position, i) => {
    if (!numbers.has(where(position))) numbers.set(where(position), i);
  });
  const state = items.map((item, i) => ({
    number: item.number,
    event: item.event,
    position: positions[i] as Position,
    outcome: 'not handled' as OutcomeKind,
    attempts: 0,
    code: undefined as string | undefined,
    reason: undefined as string | undefined,
    errors: [] as string[],
  }));
  const of = (position: Position) => {
    const index = numbers.get(where(position));
    return index === undefined ? undefined : state[index];
  };
  const wiring: HandlerWiring = { log, store };
  const handlers = typeof options.handlers === 'function' ? options.handlers(wiring) : options.handlers;
  const runners: ViewRunner[] = (options.views ?? []).map((view) => runView(view, { log, store }));
  for (const runner of runners) runner.done.catch(() => undefined);
  const consumer = createConsumer({
    log,
    catalog: options.catalog,
    group: 'handler-spec',
    checkpoints: memoryCheckpointStore(),
    deadLetters,
    handlers: handlers as ConsumerHandlers<AnyCatalog>,
    retry: { initialMs: 1, maxMs: 5, ...options.retry },
    ...(options.unknownTypes ? { unknownTypes: options.unknownTypes } : {}),
    ...(options.onUnreadable ? { onUnreadable: options.onUnreadable } : {}),
    hooks: {
      onHandled: ({ position, attempts }) => {
        const s = of(position);
        if (s) Object.assign(s, { outcome: 'handled', attempts });
      },
      onIgnored: ({ record }) => {
        const s = of(record.position);
        if (s) s.outcome = 'ignored';
      },
      onRetry: (info) => {
        if (info.stage !== 'handler') return;
        const s = of(info.position);
        if (s) s.errors.push((info.error as Error)?.message ?? String(info.error));
      },
      onDeadLetter: (letter) => {
        const s = of(letter.record.position);
        if (!s) return;
        Object.assign(s, {
          outcome: 'dead-lettered',
          code: letter.code,
          reason: letter.reason,
          attempts: letter.code === 'HANDLER_FAILED' ? letter.attempts : 0,
        });
        if (letter.code === 'HANDLER_FAILED' && s.errors.length < letter.attempts) s.errors.push(letter.reason);
      },
      onError: () => {},
    },
  });
  const deadline = Date.now() + timeoutMs;
  let stopped: string | undefined;
  try {
    await consumer.start();
    const partitions = (await memory.partitions()).map((p) => p.id);
    let before: PositionMap = await readEnds(memory, partitions, {});
    for (;;) {
      const left = () => Math.max(1, deadline - Date.now());
      try {
        await consumer.caughtUp({ timeoutMs: left() });
      } catch (error) {
        // A partition stopped on an event the catalog cannot read: its outcome says so; the rest is done.
        if ((error as { code?: string }).code === 'CAUGHT_UP_TIMEOUT') throw error;
        stopped = (error as Error).message;
      }
      await Promise.all(runners.map((runner) => runner.caughtUp({ timeoutMs: left() })));
      const after = await readEnds(memory, partitions, before);
      if (JSON.stringify(after) === JSON.stringify(before) || stopped) break;
      before = after;
    }
  } catch (error) {
    throw new SpecAssertionError({
      run: 'handled',
      message: `handlerSpec: handling did not finish: ${(error as Error)?.message ?? String(error)}\n${state.map((s) => `  ${line(s)}`).join('\n')}`,
    });
  } finally {
    await consumer.stop().catch(() => undefined);
    await Promise.all(runners.map((runner) => runner.stop()));
  }
  for (const s of state) if (s.outcome === 'not handled' && stopped) s.reason = `its partition stopped: ${stopped}`;
  const outcomes: HandlerOutcome[] = state.map((s) => ({
    number: s.number,
    event: s.event,
    position: s.position,
    outcome: s.outcome,
    attempts: s.attempts,
    ...(s.code === undefined ? {} : { code: s.code }),
    ...(s.reason === undefined ? {} : { reason: s.reason }),
    errors: s.errors,
  }));
  return { outcomes, emitted: [...emitted.values()], deadLetters: [...deadLetters.letters], summary: outcomes.map(line) };
}

function line(outcome: HandlerOutcome): string {
  return `event #${outcome.number} ${outcome.event.type} ${JSON.stringify(outcome.event.subject)} at ${where(outcome.position)}: ${describe(outcome)}`;
}
