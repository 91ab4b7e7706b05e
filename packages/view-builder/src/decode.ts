import type { DecodeError, Envelope, LogRecord, Position } from '@riverlog/core';
import { decodeRecord } from '@riverlog/core';
import type { View } from './define-view.js';
import type { SkippedRecord } from './skips.js';

/** What a view does with an event of a type it folds that this catalog cannot read yet. */
export type OnUnreadable = 'stop' | 'dead-letter';

/** One record as the view sees it. */
export type Classified =
  /** A type the view does not fold (or no rows to touch): the checkpoint moves past it. */
  | { readonly kind: 'pass' }
  /** An event to fold into the rows of `keys`. */
  | { readonly kind: 'event'; readonly event: Envelope; readonly keys: readonly string[] }
  /** Reported (dead letter, `onSkip`), then passed. */
  | { readonly kind: 'skip'; readonly skipped: SkippedRecord }
  /** An event of a type the view folds that this catalog cannot read yet: its partition stops before it. */
  | { readonly kind: 'unreadable'; readonly error: DecodeError; readonly skipped: SkippedRecord };

const PASS: Classified = Object.freeze({ kind: 'pass' });

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function where(position: Position): string {
  return `partition ${position.partition}, offset ${position.offset}`;
}

/**
 * Classifies a record for a view, the one decode path of the fold:
 * - types the view does not fold pass (not an error);
 * - a record that is not an envelope is skipped (dead letter) and passes;
 * - an event of a folded type with a version newer than the catalog knows, or
 *   that fails its schema, is `unreadable`: the partition stops before it
 *   (`onUnreadable: 'stop'`), or it is skipped (`'dead-letter'`);
 * - an event whose `key` throws is skipped (`APPLY_FAILED`).
 */
export function classify(view: View, record: LogRecord, onUnreadable: OnUnreadable): Classified {
  const { fold, catalog } = view;
  const stored = record.event as { type?: unknown } | null | undefined;
  const type = stored !== null && typeof stored === 'object' ? stored.type : undefined;
  if (typeof type === 'string' && !fold.handles(type)) return PASS;
  const decoded = decodeRecord(catalog, record);
  if (decoded._tag === 'Left') {
    const error = decoded.left;
    const kind = (error as { kind?: string }).kind;
    const code = error.code === 'UNREADABLE_VERSION' ? 'UNREADABLE_VERSION' : 'DECODE_FAILED';
    const skipped: SkippedRecord = { view: view.table, record, code, reason: error.message, error };
    if (kind === 'unknown-type') return PASS; // a type the catalog does not define cannot be one the view folds
    if (kind === 'newer-version' || kind === 'invalid') {
      return onUnreadable === 'stop' ? { kind: 'unreadable', error, skipped } : { kind: 'skip', skipped };
    }
    return { kind: 'skip', skipped };
  }
  const event = decoded.right as Envelope;
  let keys: readonly string[];
  try {
    keys = fold.keysOf(event);
  } catch (error) {
    return {
      kind: 'skip',
      skipped: {
        view: view.table,
        record,
        code: 'APPLY_FAILED',
        reason: `View ${view.table}: key threw for ${JSON.stringify(event.type)} event ${event.id} at ${where(record.position)}: ${messageOf(error)}`,
        error,
      },
    };
  }
  return keys.length === 0 ? PASS : { kind: 'event', event, keys };
}
