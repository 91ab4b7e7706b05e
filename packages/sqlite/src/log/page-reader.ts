import type { LogRecord } from '@riverlog/core';
import { decodeUtf8 } from '@riverlog/core/backend';
import type Database from 'better-sqlite3';
import { PARTITION_SPAN } from './log-file.js';
import type { PartitionStatements } from './partition-tables.js';

/** A stored row as a page query returns it: `[offset, envelope]`, the envelope NULL for a type the read filters out. */
export type PageRow = [number, string | null];

/**
 * Turns a page of one partition's rows into records: parses each envelope,
 * checks its bytes were UTF-8 (SQLite hands invalid bytes over replaced by
 * U+FFFD, so only a text holding U+FFFD is read again as bytes), and gives
 * each record its append time from the partition's time marks.
 */
export class PageReader {
  private readonly markAtOrBefore: Database.Statement;
  private readonly marksBetween: Database.Statement;

  constructor(db: Database.Database) {
    // The time of an event is the time of the last mark at or before it in its partition.
    this.markAtOrBefore = db
      .prepare('SELECT appended_at FROM riverlog_append_times WHERE position <= ? AND position >= ? ORDER BY position DESC LIMIT 1')
      .pluck();
    this.marksBetween = db
      .prepare('SELECT position, appended_at FROM riverlog_append_times WHERE position > ? AND position <= ? ORDER BY position')
      .raw();
  }

  /** The append time of the record at `offset` (undefined when the partition has no mark at or before it). */
  timeAt(partition: number, offset: number): number | undefined {
    const base = partition * PARTITION_SPAN;
    return this.markAtOrBefore.get(base + offset, base) as number | undefined;
  }

  /** The records of `rows` (non-empty, in offset order) of partition `id`. */
  records(rows: readonly PageRow[], partition: number, id: string, table: PartitionStatements): LogRecord[] {
    const base = partition * PARTITION_SPAN;
    const first = (rows[0] as PageRow)[0];
    const last = (rows[rows.length - 1] as PageRow)[0];
    let time = this.timeAt(partition, first);
    const marks = this.marksBetween.all(base + first, base + last) as [number, number][];
    let mark = 0;
    const records: LogRecord[] = [];
    for (const [offset, text] of rows) {
      while (mark < marks.length && (marks[mark] as [number, number])[0] <= base + offset) time = (marks[mark++] as [number, number])[1];
      if (text === null) continue; // a type the read filters out
      const position = { partition: id, offset: String(offset) };
      if (text.includes('\uFFFD')) {
        const invalid = this.invalidUtf8(table, offset);
        if (invalid) {
          records.push({ position, event: undefined, raw: text, error: invalid, storedAt: time });
          continue;
        }
      }
      try {
        records.push({ position, event: JSON.parse(text), storedAt: time });
      } catch (error) {
        records.push({ position, event: undefined, raw: text, error: `not JSON: ${(error as Error).message}`, storedAt: time });
      }
    }
    return records;
  }

  /** Why the stored bytes at `offset` are not UTF-8, or undefined when they are. */
  private invalidUtf8(table: PartitionStatements, offset: number): string | undefined {
    const bytes = table.bytesAt.get(offset) as Uint8Array | undefined;
    if (bytes === undefined) return undefined;
    try {
      decodeUtf8(bytes, 'the stored envelope');
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }
}
