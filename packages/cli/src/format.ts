import { createRequire } from 'node:module';
import type { LogRecord } from '@riverlog/core';
import type { Colors } from './output.js';

/** One line for a record: time, position, type, subject, data. Non-envelopes say why. */
export function eventLine(record: LogRecord, c: Colors, width: number | undefined): string {
  const at = c.cyan(`${record.position.partition}:${record.position.offset}`);
  const event = record.event as { time?: unknown; type?: unknown; subject?: unknown; data?: unknown; id?: unknown } | undefined;
  if (event === undefined || typeof event !== 'object' || event === null) {
    return `${at}  ${c.red('not an envelope')}: ${record.error ?? 'unreadable'}  ${c.dim(truncate(record.raw ?? '', 200))}`;
  }
  const time = typeof event.time === 'string' ? event.time : record.storedAt !== undefined ? new Date(record.storedAt).toISOString() : '';
  const head = `${c.dim(time)}  ${at}  ${c.bold(c.green(String(event.type)))}  ${c.yellow(String(event.subject))}  `;
  const data = JSON.stringify(event.data) ?? '';
  if (width === undefined) return head + data;
  // On a terminal one event is one screen line.
  const visible = stripAnsi(head).length;
  return head + truncate(data, Math.max(10, width - visible));
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what it strips
const ANSI = /\u001b\[[0-9;]*m/g;
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * A table for a person (cli-table3), coloured headings only when colour is on.
 *
 * @example
 * console.log(table(['partition', 'lag'], [['0', '3']], colors));
 */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[], c: Colors): string {
  // Loaded when a table is printed: every command starts faster without it.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof import('cli-table3');
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) t.push(row.map((cell) => String(cell)));
  return t.toString();
}
