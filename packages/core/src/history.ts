import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Catalog } from './catalog.js';
import * as E from './either.js';
import { type Envelope, EnvelopeCodec, envelopeBytes } from './envelope.js';
import { RiverlogError } from './errors.js';
import { describeIssues, toIssues } from './issues.js';
import { readLineage } from './lineage.js';
import { type EventLog, PARTITION_END, type ReadOptions } from './ports.js';
import { advance, type PositionMap } from './position.js';

// History files are JSON Lines: one CloudEvents envelope per line, each
// partition's events in log order. They hold envelopes only, no positions:
// an import gets new positions from the log it writes to.

/**
 * Which records to export: the read options of `EventLog.read` (not following), and whether to end the stream.
 * Without `partitions`, the whole log is read in lineage order (parents before children).
 */
export interface ExportOptions extends Pick<ReadOptions, 'from' | 'partitions' | 'types' | 'signal'> {
  /** End `writable` when done, as `stream.pipeline` does. Default true; pass false for `process.stdout`. */
  readonly end?: boolean;
}

export interface ExportResult {
  /** Events written. */
  readonly events: number;
  /**
   * The last exported offset per partition ({@link PARTITION_END} for one read to its end):
   * pass it as `from: { after }` to export only what came later.
   */
  readonly positions: PositionMap;
}

/** A record in the log is not an envelope, so it cannot be exported. Lines before it were written. */
export class HistoryExportError extends RiverlogError {
  constructor(message: string) {
    super('EXPORT_FAILED', message);
  }
}

/**
 * Writes a log's events to `writable` as JSON Lines, one envelope per line,
 * each partition's events in log order. Resolves once the last line is
 * written (and `writable` finished, unless `end: false`).
 *
 * @example
 * import { createWriteStream } from 'node:fs';
 * const { events, positions } = await exportLog(log, createWriteStream('history.jsonl'));
 * // later, only what came since:
 * await exportLog(log, createWriteStream('more.jsonl'), { from: { after: positions } });
 */
export async function exportLog(log: EventLog, writable: NodeJS.WritableStream, options: ExportOptions = {}): Promise<ExportResult> {
  let events = 0;
  let positions: PositionMap = {};
  async function* lines(): AsyncGenerator<string> {
    const readOptions = {
      from: options.from ?? 'earliest',
      ...(options.types ? { types: options.types } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const read = options.partitions ? log.read({ ...readOptions, partitions: options.partitions }) : readLineage(log, readOptions);
    for await (const batch of read) {
      let chunk = '';
      for (const record of batch.records) {
        if (record.event === undefined) {
          throw new HistoryExportError(
            `${log.uri}: the record at partition ${record.position.partition}, offset ${record.position.offset} is not an envelope (${record.error ?? 'unreadable'}); ${events} events were exported before it. Export around it with from: { after: { '${record.position.partition}': '${record.position.offset}' } }.`,
          );
        }
        chunk += `${JSON.stringify(record.event)}\n`;
        events++;
        positions = advance(positions, record.position);
      }
      if (batch.ended) positions = { ...positions, [batch.partition]: PARTITION_END };
      if (chunk) yield chunk;
    }
  }
  await pipeline(Readable.from(lines(), { objectMode: false }), writable, {
    end: options.end ?? true,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { events, positions };
}

export interface ImportOptions {
  /** Events per `log.append`. Default 500. */
  readonly batchSize?: number;
  /** Also check each event against this catalog: a known type and a payload that decodes. */
  readonly catalog?: Catalog;
  /** Check every line and append nothing; resolves with what would be imported. */
  readonly dryRun?: boolean;
  /** Stops the import between batches; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface ImportResult {
  /** Lines that held an event (blank lines are skipped). */
  readonly lines: number;
  /** Events handed to `log.append`. Ids the log already held are not stored again by it. */
  readonly appended: number;
  /** Lines skipped because their id appeared earlier in the same import. */
  readonly duplicates: number;
}

/**
 * A line of a history file is not an importable event. Every line before it
 * was imported (`imported` events, unless it was a dry run); nothing from it on was.
 */
export class HistoryImportError extends RiverlogError {
  /** 1-based line number of the bad line. */
  readonly line: number;
  readonly reason: string;
  /** Events appended before the error. */
  readonly imported: number;
  constructor(location: string, line: number, reason: string, imported: number) {
    super(
      'IMPORT_FAILED',
      `${location}, line ${line}: ${reason}. The ${imported} events before it were imported, nothing from line ${line} on. Fix the line and import the file again: events already imported are skipped by id.`,
    );
    this.line = line;
    this.reason = reason;
    this.imported = imported;
  }
}

/**
 * Appends the events of a JSON Lines history (as `exportLog` writes it) to
 * `log`, in file order and in batches. `readable` is a byte or text stream
 * (`fs.createReadStream`, `process.stdin`) or any iterable of chunks. Ids repeated in the file are skipped;
 * ids the log already holds are not stored again by the log's own dedupe, so
 * importing a file twice adds nothing the second time (within the log's
 * dedupe window: the whole log for SQLite and memory).
 *
 * Each line is checked as it is read (JSON, envelope fields, size, and the
 * catalog if given). A bad line stops the import with `HistoryImportError`
 * naming the line: everything before it is imported, nothing after. To check
 * a whole file before writing anything, run once with `dryRun: true`.
 *
 * @example
 * import { createReadStream } from 'node:fs';
 * const { appended, duplicates } = await importLog(log, createReadStream('history.jsonl'), { catalog });
 */
export async function importLog(
  log: EventLog,
  readable: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RiverlogError('INVALID_OPTION', `importLog: batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  }
  const location = `import into ${log.uri}`;
  const seen = new Set<string>();
  let batch: Envelope[] = [];
  let lines = 0;
  let appended = 0;
  let duplicates = 0;
  let lineNumber = 0;

  async function appendBatch(): Promise<void> {
    if (batch.length === 0) return;
    if (!options.dryRun) await log.append(batch);
    appended += batch.length;
    batch = [];
  }

  async function take(line: string): Promise<void> {
    lineNumber++;
    const text = lineNumber === 1 && line.startsWith('\uFEFF') ? line.slice(1) : line;
    if (text.trim() === '') return;
    lines++;
    const event = checkLine(text, log.maxEventBytes, options.catalog);
    if (typeof event === 'string') {
      await appendBatch();
      throw new HistoryImportError(location, lineNumber, event, options.dryRun ? 0 : appended);
    }
    if (seen.has(event.id)) {
      duplicates++;
      return;
    }
    seen.add(event.id);
    batch.push(event);
    if (batch.length >= batchSize) {
      options.signal?.throwIfAborted();
      await appendBatch();
    }
  }

  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  for await (const chunk of readable) {
    let text: string;
    try {
      text = rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    } catch {
      await appendBatch();
      throw new HistoryImportError(location, lineNumber + 1, 'not valid UTF-8', options.dryRun ? 0 : appended);
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      await take(text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end));
      start = end + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.decode();
  if (rest !== '') await take(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
  options.signal?.throwIfAborted();
  await appendBatch();
  return { lines, appended, duplicates };
}

/** The line's envelope, or why it cannot be imported. */
function checkLine(text: string, maxEventBytes: number, catalog: Catalog | undefined): Envelope | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (!EnvelopeCodec.is(value)) {
    const checked = EnvelopeCodec.decode(value);
    const issues = E.isLeft(checked) ? toIssues(checked.left) : [];
    return `not a CloudEvents envelope (${describeIssues(issues) || 'not an object'})`;
  }
  const event = value as unknown as Envelope;
  if (catalog) {
    const decoded = catalog.decode(event);
    if (E.isLeft(decoded)) return `event ${event.id}: ${decoded.left.message}`;
  }
  const size = envelopeBytes(event);
  if (size > maxEventBytes) return `event ${event.id} is ${size} bytes serialized, over the log's limit of ${maxEventBytes}`;
  return event;
}
