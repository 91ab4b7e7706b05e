import type { Envelope, Position } from '@riverlog/core';
import type { SkippedRecord } from '@riverlog/view-builder';
import type { Command } from 'commander';
import { collect, formatPositions, parseFrom, parseTo, wholeNumber } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { logHeads, recordCount } from '../heads.js';
import { importUserModule, loadFunction, splitSpec } from '../modules.js';
import { examples, type Run } from '../program-kit.js';
import { makeProgress } from '../progress.js';
import { findView } from '../views-lookup.js';

interface ReplayOptions {
  readonly from?: string;
  readonly to?: string;
  readonly type?: string[];
  readonly subject?: string[];
  readonly handler?: string;
  readonly view?: string;
  readonly rebuild?: boolean;
  readonly dropPrevious?: boolean;
  readonly batchSize?: number;
}

type Handler = (event: Envelope, position: Position) => unknown;

export function registerReplay(program: Command, run: Run): void {
  const command = program
    .command('replay')
    .description('Replay the log from the start, a position or a time, to a position or a time, into a handler module or a view.')
    .option('--from <start>', 'earliest (default), an ISO time, or positions partition:offset,... (included)')
    .option('--to <end>', 'an ISO time, or positions partition:offset,... (included; other partitions are not read); default: the end')
    .option('--type <type>', 'only events of this type (repeatable; into a handler)', collect)
    .option('--subject <subject>', 'only events about this subject (repeatable; into a handler)', collect)
    .option(
      '--handler <module>',
      'a module whose export handler (or default, or #name) receives (event, position); an export finish() runs at the end and its result is printed',
    )
    .option('--view <name>', 'fold into this view of the views modules (name or name@version): resumes after its checkpoint')
    .option('--rebuild', 'with --view: build this version from the start of the log beside the current one and switch reads to it')
    .option('--drop-previous', 'with --rebuild: drop the version reads used before')
    .option('--batch-size <n>', 'records per read', wholeNumber(1));
  examples(command, [
    'riverlog replay --handler ./count.mjs --from 2026-11-01 --type product/purchase',
    'riverlog replay --handler ./audit.mjs#onEvent --from 0:1000,1:980 --to 2026-11-02T00:00:00Z',
    'riverlog replay --view products --store sqlite:./views.db --views ./dist/views.js',
    'riverlog replay --view products@2 --rebuild --drop-previous',
  ]);
  command.action(
    run<ReplayOptions>(async ({ ctx, out, options, signal }) => {
      if ((options.handler === undefined) === (options.view === undefined)) {
        throw new UsageError('replay needs one target: --handler <module> or --view <name>.');
      }
      if (options.rebuild && !options.view) throw new UsageError('--rebuild goes with --view.');
      if (options.dropPrevious && !options.rebuild)
        throw new UsageError('--drop-previous goes with --rebuild (it drops the version reads used before the rebuild).');
      const { rebuildView, replay } = await import('@riverlog/view-builder');
      const log = await ctx.log();
      const started = performance.now();
      const skipped: SkippedRecord[] = [];
      const onSkip = (skip: SkippedRecord) => {
        skipped.push(skip);
        out.note(
          `${out.errColor.yellow('skipped')} ${skip.record.position.partition}:${skip.record.position.offset} ${skip.code}: ${skip.reason}`,
        );
      };
      const deadLetters = await ctx.deadLetters({ create: true });
      const sinks = deadLetters ? { deadLetters, onSkip } : { onSkip };
      const batchSize = options.batchSize === undefined ? {} : { batchSize: options.batchSize };
      const whole = options.from === undefined && options.to === undefined && !options.type && !options.subject;
      const total = whole && !options.view ? recordCount(await logHeads(log, ctx.logUri())) : undefined;
      const progress = makeProgress(out, options.view ? 'folded' : 'replayed', total);
      let summary: Record<string, unknown>;

      if (options.handler !== undefined) {
        const handler = await loadFunction<Handler>(options.handler, ctx.cwd, 'handler', 'handler module');
        // The same module (imports are cached), for its optional finish().
        const module = await importUserModule(splitSpec(options.handler).path, ctx.cwd, 'handler module');
        const to = parseTo(options.to);
        const from = parseFrom(options.from, 'earliest');
        const result = await replay({
          log,
          catalog: await ctx.catalog(),
          from,
          ...(to !== undefined ? { to } : {}),
          ...(options.type ? { types: options.type } : {}),
          ...(options.subject ? { subjects: options.subject } : {}),
          into: handler as never,
          ...batchSize,
          ...sinks,
          signal,
          onProgress: (p) => progress.update(p.records),
        });
        progress.stop();
        const finish = module.finish;
        const finished = typeof finish === 'function' ? await (finish as () => unknown)() : undefined;
        summary = { ...result, ...(finished !== undefined ? { result: finished } : {}) };
      } else {
        const view = await findView(ctx, options.view as string);
        const store = await ctx.requireViewStore({ create: true });
        if (options.type || options.subject || options.to) {
          throw new UsageError(
            'Into a view, replay folds everything after its checkpoint: --type, --subject and --to are for --handler (a view is a fold of the whole log).',
          );
        }
        if (options.rebuild) {
          let records = 0;
          const rebuilt = await rebuildView(view, {
            log,
            store,
            ...sinks,
            ...batchSize,
            signal,
            dropPrevious: options.dropPrevious === true,
            onCommit: (info) => {
              records += info.records;
              progress.update(records);
            },
          });
          progress.stop();
          summary = { records, ...rebuilt };
        } else {
          const from = options.from === undefined ? undefined : parseFrom(options.from, 'earliest');
          const result = await replay({
            log,
            into: view,
            store,
            ...(from ? { from } : {}),
            ...batchSize,
            ...sinks,
            signal,
            onProgress: (p) => progress.update(p.records),
          });
          progress.stop();
          summary = { table: view.table, ...result };
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const report = { ...summary, skipped: skipped.length, seconds: Number(seconds.toFixed(3)) };
      if (out.json) out.data(report);
      else {
        const positions = (report as { positions?: Readonly<Record<string, string>> }).positions;
        out.line(
          `${skipped.length ? out.color.yellow('!') : out.color.green('✓')} ${options.view ? `${String((report as { table?: unknown }).table)}: ` : ''}${String((report as { events?: unknown }).events ?? (report as { records?: unknown }).records)} events in ${seconds.toFixed(1)} s${skipped.length ? `, ${skipped.length} skipped` : ''}${positions ? ` (up to ${formatPositions(positions)})` : ''}`,
        );
        if ('result' in report) out.line(typeof report.result === 'string' ? report.result : JSON.stringify(report.result));
      }
      return skipped.length > 0 ? EXIT.failure : EXIT.ok;
    }),
  );
}
