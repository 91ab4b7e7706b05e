import type { DeadLetterSink, LogRecord } from '@riverlog/core';
import type { Retries } from './retries.js';

/** A record a view (or a replay) could not use, and why. */
export interface SkippedRecord {
  /** The view table (or `replay`) that skipped it. */
  readonly view: string;
  readonly record: LogRecord;
  /**
   * `DECODE_FAILED`: not an envelope, or (with `onUnreadable: 'dead-letter'`)
   * a payload that fails its schema; `UNREADABLE_VERSION`: (with
   * `onUnreadable: 'dead-letter'`) a version newer than the catalog knows;
   * `APPLY_FAILED`: `key` or an `apply` handler threw.
   */
  readonly code: 'DECODE_FAILED' | 'UNREADABLE_VERSION' | 'APPLY_FAILED';
  /** What went wrong, naming the type, the position and the field path or handler. */
  readonly reason: string;
  /** The error thrown, when there was one. */
  readonly error?: unknown;
}

/** Where skipped records are reported: a callback, a dead-letter sink, or both. */
export interface SkipReporting {
  /** Called once per skipped record, before the checkpoint moves past it. */
  readonly onSkip?: (skipped: SkippedRecord) => void | Promise<void>;
  /** Receives skipped records as dead letters (`group` = the view table); awaited before the checkpoint moves. */
  readonly deadLetters?: DeadLetterSink;
}

/** The letter a skipped record becomes. */
function letterOf(skipped: SkippedRecord, at: string) {
  return { group: skipped.view, record: skipped.record, code: skipped.code, reason: skipped.reason, attempts: 1, at };
}

const where = (record: LogRecord) => `${record.position.partition}\u0000${record.position.offset}`;

/**
 * Reports skipped records to `onSkip` and `deadLetters` when given, else as
 * a warning on stderr — never silently — and each record once per process:
 * a batch folded again (after a conflict, a lost lease, a retry) does not
 * report its skipped records again. Across processes a record may be
 * reported again after a crash; dead-letter sinks keep one letter per group
 * and position. With `retries`, a dead-letter sink that fails is retried
 * for as long as it fails (a transient failure does not end the view).
 *
 * @example
 * const reporter = new SkipReporter({ onSkip: (s) => console.error(s.reason) });
 * await reporter.report(unit.skipped); // before the commit that moves the checkpoint past them
 */
export class SkipReporter {
  /** Positions reported, until the checkpoint moves past them ({@link forget}). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly reporting: SkipReporting,
    private readonly retries?: Retries,
  ) {}

  /** Reports those of `skipped` not reported yet, in the order given. */
  async report(skipped: readonly SkippedRecord[]): Promise<void> {
    const fresh = skipped.filter((s) => !this.reported.has(where(s.record)));
    if (fresh.length === 0) return;
    const { deadLetters, onSkip } = this.reporting;
    if (deadLetters) {
      const at = new Date().toISOString();
      const letters = fresh.map((s) => letterOf(s, at));
      await (this.retries ? this.retries.run('deadLetters', () => deadLetters.send(letters)) : deadLetters.send(letters));
    }
    if (onSkip) {
      for (const s of fresh) {
        if (this.reported.has(where(s.record))) continue;
        await onSkip(s);
        this.reported.add(where(s.record));
      }
    }
    if (!deadLetters && !onSkip) {
      for (const s of fresh) process.emitWarning(`${s.view} skipped a record: ${s.reason}`, { code: `RIVERLOG_${s.code}` });
    }
    for (const s of fresh) this.reported.add(where(s.record));
  }

  /** Forgets the records of `skipped` once they can no longer be folded again (the checkpoint moved past them). */
  forget(skipped: readonly SkippedRecord[]): void {
    for (const s of skipped) this.reported.delete(where(s.record));
  }
}
