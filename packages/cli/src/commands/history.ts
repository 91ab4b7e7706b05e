import { createReadStream, createWriteStream, existsSync, rmSync, statSync } from 'node:fs';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { type EventLog, exportLog, importLog } from '@riverlog/core';
import type { Command } from 'commander';
import { sqlitePath } from '../addresses.js';
import { collect, formatPositions, parseFrom, wholeNumber } from '../args.js';
import type { Context } from '../config.js';
import { logHeads, recordCount } from '../heads.js';
import { examples, type Run } from '../program-kit.js';
import { makeProgress } from '../progress.js';

interface ExportOptions {
  readonly from?: string;
  readonly type?: string[];
  readonly partition?: string[];
  readonly gzip?: boolean;
}

interface ImportOptions {
  readonly gzip?: boolean;
  readonly dryRun?: boolean;
  readonly batchSize?: number;
  readonly check?: boolean;
}

export function registerHistory(program: Command, run: Run): void {
  const exporter = program
    .command('export')
    .argument('<file>', 'the JSON Lines file to write (- for stdout); .gz compresses')
    .description('Write the log as JSON Lines, one CloudEvent per line, each partition in log order (parents before children).')
    .option('--from <start>', 'earliest (default), an ISO time, or positions partition:offset,...')
    .option('--type <type>', 'only events of this type (repeatable)', collect)
    .option('--partition <id>', 'only this partition (repeatable)', collect)
    .option('--gzip', 'compress (implied by a .gz file name)');
  examples(exporter, [
    'riverlog export history.jsonl.gz --log sqlite:./retail.db',
    'riverlog export - --from 2026-11-01 --type product/purchase | wc -l',
  ]);
  exporter.action(
    run<ExportOptions>(async ({ ctx, out, options, args, signal }) => {
      const file = args[0] as string;
      const log = await ctx.log();
      const whole = options.from === undefined && !options.type && !options.partition;
      const progress = makeProgress(out, 'exported', whole ? recordCount(await logHeads(log, ctx.logUri())) : undefined, 'events');
      let lines = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
          progress.update(lines);
          done(null, chunk);
        },
      });
      const toStdout = file === '-';
      const gzip = options.gzip === true || file.endsWith('.gz');
      const sink = toStdout ? process.stdout : createWriteStream(file);
      const finished = pipeline([counter, ...(gzip ? [createGzip()] : []), sink] as NodeJS.ReadWriteStream[], { end: !toStdout });
      const result = await exportLog(log, counter, {
        from: parseFrom(options.from, 'earliest'),
        ...(options.type ? { types: options.type } : {}),
        ...(options.partition ? { partitions: options.partition } : {}),
        signal,
      });
      await finished;
      progress.stop();
      const report = { file, gzip, ...result };
      // On stdout the data is the file itself: the summary goes to stderr.
      if (toStdout) out.note(`exported ${result.events} events (up to ${formatPositions(result.positions)})`);
      else if (out.json) out.data(report);
      else
        out.line(
          `${out.color.green('✓')} ${result.events} events to ${file}${gzip ? ' (gzip)' : ''}, up to ${formatPositions(result.positions) || 'nothing'}`,
        );
    }),
  );

  const importer = program
    .command('import')
    .argument('<file>', 'a JSON Lines history (- for stdin); .gz (or gzip bytes) is decompressed')
    .description('Append a JSON Lines history to the log in file order; ids the log already holds are skipped.')
    .option('--dry-run', 'check every line and append nothing')
    .option('--no-check', 'do not decode events against the catalog (default: check when a catalog is given)')
    .option('--batch-size <n>', 'events per append (default 500)', wholeNumber(1));
  examples(importer, [
    'riverlog import history.jsonl.gz --log sqlite:./restored.db --catalog ./dist/catalog.js',
    'riverlog import history.jsonl --log kafka://127.0.0.1:9092/retail-stream --dry-run',
  ]);
  importer.action(
    run<ImportOptions>(async ({ ctx, out, options, args, signal }) => {
      const file = args[0] as string;
      const created = logFileToCreate(ctx);
      const log = await ctx.log({ create: true });
      try {
        const catalog = options.check !== false && ctx.hasCatalog() ? await ctx.catalog() : undefined;
        const fromStdin = file === '-';
        const size = fromStdin ? undefined : statSync(file).size;
        const progress = makeProgress(out, 'imported', size, 'bytes');
        const before = recordCount(await logHeads(log, ctx.logUri()));
        let bytes = 0;
        const counted = new PassThrough();
        counted.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          progress.update(bytes);
        });
        const input = fromStdin ? process.stdin : createReadStream(file);
        const gzip = await isGzip(file, fromStdin);
        const text = new PassThrough();
        const feeding = pipeline([input, counted, ...(gzip ? [createGunzip()] : []), text] as NodeJS.ReadWriteStream[]);
        const result = await importLog(log, text, {
          ...(catalog ? { catalog } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
          ...(options.batchSize ? { batchSize: options.batchSize } : {}),
          signal,
        });
        await feeding;
        progress.stop();
        const after = options.dryRun ? before : recordCount(await logHeads(log, ctx.logUri()));
        const added = before !== undefined && after !== undefined ? after - before : undefined;
        const report = {
          file,
          ...result,
          ...(added !== undefined ? { added, alreadyPresent: result.appended - added } : {}),
          dryRun: options.dryRun === true,
        };
        if (out.json) out.data(report);
        else {
          const present = added !== undefined ? `, ${added} new, ${result.appended - added} already in the log` : '';
          out.line(
            `${out.color.green('✓')} ${result.lines} lines${options.dryRun ? ' checked (dry run, nothing appended)' : `: ${result.appended} appended${present}`}${result.duplicates ? `, ${result.duplicates} repeated in the file` : ''}`,
          );
        }
      } catch (error) {
        // A log file this import created and put nothing in is not left behind (one that was there before stays).
        if (created !== undefined) await removeIfEmpty(log, created, ctx.logUri());
        throw error;
      }
    }),
  );
}

/** The `sqlite:` file of the log when it does not exist yet (the import will create it), else undefined. */
function logFileToCreate(ctx: Context): string | undefined {
  const uri = ctx.logUri();
  if (uri === undefined || !/^sqlite:/i.test(uri) || /^sqlite::memory:/i.test(uri)) return undefined;
  const path = sqlitePath(uri, ctx.cwd);
  return existsSync(path) ? undefined : path;
}

/** Closes the log and removes its file (with SQLite's side files) when it holds no record. */
async function removeIfEmpty(log: EventLog, path: string, uri: string | undefined): Promise<void> {
  const records = await logHeads(log, uri).then(recordCount, () => undefined);
  if (records !== 0) return;
  await log.close();
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(file, { force: true });
}

/** A .gz name, or the gzip magic bytes at the start of the file. */
async function isGzip(file: string, stdin: boolean): Promise<boolean> {
  if (file.endsWith('.gz')) return true;
  if (stdin) return false;
  const { open } = await import('node:fs/promises');
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}
