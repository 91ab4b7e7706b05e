import type { DeadLetterSink, LogRecord } from '@riverlog/core';

/** A record a view (or a replay) could not use, and why. The checkpoint still moves past it. */
export interface SkippedRecord {
  /** The view table (or `replay`) that skipped it. */
  readonly view: string;
  readonly record: LogRecord;
  /** `DECODE_FAILED` (not a valid event of the catalog) or `APPLY_FAILED` (`key` or an `apply` handler threw). */
  readonly code: 'DECODE_FAILED' | 'APPLY_FAILED';
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

/**
 * Reports skipped records: to `onSkip` and `deadLetters` when given, else
 * as a warning on stderr — never silently.
 */
export async function reportSkips(skipped: readonly SkippedRecord[], reporting: SkipReporting): Promise<void> {
  if (skipped.length === 0) return;
  if (reporting.deadLetters) {
    const at = new Date().toISOString();
    await reporting.deadLetters.send(
      skipped.map((s) => ({ group: s.view, record: s.record, code: s.code, reason: s.reason, attempts: 1, at })),
    );
  }
  if (reporting.onSkip) {
    for (const s of skipped) await reporting.onSkip(s);
  }
  if (!reporting.deadLetters && !reporting.onSkip) {
    for (const s of skipped) process.emitWarning(`${s.view} skipped a record: ${s.reason}`, { code: `RIVERLOG_${s.code}` });
  }
}
