import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Catalog, LogRecord } from '@riverlog/core';
import { dataschemaVersion, decodeRecord } from '@riverlog/core';
import { readLineage } from '@riverlog/core/backend';
import type { Command } from 'commander';
import { wholeNumber } from '../args.js';
import { EXIT } from '../errors.js';
import { table } from '../format.js';
import type { Output } from '../output.js';
import { examples, type Run } from '../program-kit.js';
import { makeProgress } from '../progress.js';

interface CheckOptions {
  readonly file?: string;
  readonly maxFailures: number;
}

/** One record that does not decode: where, why, which fields. */
export interface CheckFailure {
  /** `partition:offset` in a log, `line N` in a file. */
  readonly at: string;
  readonly position?: { readonly partition: string; readonly offset: string };
  readonly line?: number;
  readonly id?: string;
  readonly type?: string;
  readonly version?: number;
  readonly code: string;
  /** `not-envelope`, `unknown-type`, `newer-version` or `invalid`. */
  readonly kind: string;
  readonly reason: string;
  /** Each failing field: its path (`data.brand`), what was expected, what was found. */
  readonly issues: readonly { readonly path: string; readonly expected: string; readonly actual: string }[];
}

/** What `riverlog check --json` prints. */
export interface CheckReport {
  readonly source: string;
  readonly records: number;
  readonly valid: number;
  readonly failed: number;
  /** Per type: records, versions seen (version → count; `current` when the dataschema names none), failures. */
  readonly types: Readonly<
    Record<string, { readonly records: number; readonly versions: Readonly<Record<string, number>>; readonly failed: number }>
  >;
  /** The first `--max-failures` failures, in log (or file) order. */
  readonly failures: readonly CheckFailure[];
  readonly ok: boolean;
}

export function registerCheck(program: Command, run: Run): void {
  const command = program
    .command('check')
    .description('Decode every record of the log (or of a JSON Lines file) against the catalog; exit 1 on any violation.')
    .option('--file <path>', 'check a JSON Lines history (.jsonl, or .jsonl.gz) instead of the log')
    .option('--max-failures <n>', 'list at most this many failures (all are counted)', wholeNumber(0), 100);
  examples(command, [
    'riverlog check --log sqlite:./retail.db --catalog ./dist/catalog.js',
    'riverlog check --file history.jsonl.gz --catalog ./dist/catalog.js#retailCatalog --json',
    '# gate a deploy: would the new catalog still read the whole stream?',
    'riverlog check --log kafka://broker:9092/retail-stream --catalog ./next/catalog.js || exit 1',
  ]);
  command.addHelpText(
    'after',
    '\nEach record goes through the catalog as a consumer reads it: envelope, type (renamed types too), version from its\ndataschema, upcasters of older versions, payload schema. Unknown fields are dropped, not failures (tolerant reader).\n',
  );
  command.action(
    run<CheckOptions>(async ({ ctx, out, options, signal }) => {
      const catalog = await ctx.catalog();
      const checker = new Checker(catalog, options.maxFailures);
      let source: string;
      if (options.file !== undefined) {
        source = options.file;
        await checkFile(options.file, checker, signal);
      } else {
        const log = await ctx.log();
        source = log.uri;
        const progress = makeProgress(out, 'checked', undefined);
        for await (const batch of readLineage(log, { from: 'earliest', signal })) {
          for (const record of batch.records) checker.record(record);
          progress.update(checker.records);
        }
        progress.stop();
      }
      const report = checker.report(source);
      print(report, out);
      return report.ok ? EXIT.ok : EXIT.failure;
    }),
  );
}

/** Counts and failures of a check, record by record. */
export class Checker {
  records = 0;
  private valid = 0;
  private failed = 0;
  private readonly types: Record<string, { records: number; versions: Record<string, number>; failed: number }> = {};
  private readonly failures: CheckFailure[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly maxFailures: number,
  ) {}

  /** Checks one record; `line` for a file's records. */
  record(record: LogRecord, line?: number): void {
    this.records++;
    const event = record.event as { type?: unknown; dataschema?: unknown; id?: unknown } | undefined;
    const type = typeof event?.type === 'string' ? event.type : undefined;
    const version = type === undefined ? undefined : dataschemaVersion(event?.dataschema, type);
    const decoded = decodeRecord(this.catalog, record);
    const key = type ?? '(not an envelope)';
    if (!this.types[key]) this.types[key] = { records: 0, versions: {}, failed: 0 };
    const counts = this.types[key];
    counts.records++;
    const versionKey = version === undefined ? 'current' : String(version);
    counts.versions[versionKey] = (counts.versions[versionKey] ?? 0) + 1;
    if (decoded._tag === 'Right') {
      this.valid++;
      return;
    }
    this.failed++;
    counts.failed++;
    if (this.failures.length >= this.maxFailures) return;
    const error = decoded.left;
    this.failures.push({
      at: line === undefined ? `${record.position.partition}:${record.position.offset}` : `line ${line}`,
      ...(line === undefined ? { position: record.position } : { line }),
      ...(typeof event?.id === 'string' ? { id: event.id } : {}),
      ...(type !== undefined ? { type } : {}),
      ...(version !== undefined ? { version } : {}),
      code: error.code,
      kind: error.kind,
      reason: error.message,
      issues: error.issues.map(({ path, expected, actual }) => ({ path, expected, actual })),
    });
  }

  report(source: string): CheckReport {
    return {
      source,
      records: this.records,
      valid: this.valid,
      failed: this.failed,
      types: this.types,
      failures: this.failures,
      ok: this.failed === 0,
    };
  }
}

/** Checks a JSON Lines file line by line; a line that is not JSON is a `not-envelope` failure. */
async function checkFile(path: string, checker: Checker, signal: AbortSignal): Promise<void> {
  const input = createReadStream(path);
  const stream = path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const text of lines) {
    number++;
    if (signal.aborted) break;
    if (text.trim() === '') continue;
    const position = { partition: 'file', offset: String(number) };
    let record: LogRecord;
    try {
      record = { position, event: JSON.parse(number === 1 ? text.replace(/^\uFEFF/, '') : text) };
    } catch (error) {
      record = { position, event: undefined, raw: text, error: `not JSON (${(error as Error).message})` };
    }
    checker.record(record, number);
  }
}

function print(report: CheckReport, out: Output): void {
  if (out.json) {
    out.data(report);
    return;
  }
  const c = out.color;
  out.line(
    table(
      ['type', 'records', 'versions seen', 'failed'],
      Object.entries(report.types)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, t]) => [
          type,
          t.records,
          Object.entries(t.versions)
            .map(([v, n]) => `${v === 'current' ? 'current' : `v${v}`}×${n}`)
            .join(' '),
          t.failed > 0 ? c.red(String(t.failed)) : '0',
        ]),
      c,
    ),
  );
  for (const failure of report.failures) {
    const fields = failure.issues.map((i) => `${i.path} (expected ${i.expected}, got ${i.actual})`).join('; ');
    out.line(`${c.red('✗')} ${c.cyan(failure.at)} ${failure.type ?? ''} ${c.dim(failure.code)}: ${fields || failure.reason}`);
  }
  if (report.failed > report.failures.length) out.line(c.dim(`… and ${report.failed - report.failures.length} more failures`));
  const summary = `${report.records} records in ${report.source}: ${report.valid} valid, ${report.failed} failed`;
  out.line(report.ok ? c.green(`✓ ${summary}`) : c.red(`✗ ${summary}`));
}
