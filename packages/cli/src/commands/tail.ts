import type { EventLog, ReadBatch } from '@riverlog/core';
import { readLineage } from '@riverlog/core/backend';
import type { Command } from 'commander';
import { collect, parseFrom, wholeNumber } from '../args.js';
import { eventLine } from '../format.js';
import { drained } from '../output.js';
import { examples, type Run } from '../program-kit.js';

interface TailOptions {
  readonly from?: string;
  readonly type?: string[];
  readonly subject?: string[];
  readonly partition?: string[];
  readonly follow: boolean;
  readonly limit?: number;
}

export function registerTail(program: Command, run: Run): void {
  const command = program
    .command('tail')
    .description('Follow the log: one line per event, or --json one CloudEvent per line.')
    .option('--from <start>', 'earliest, latest (default), an ISO time, or positions partition:offset,...')
    .option('--type <type>', 'only events of this type (repeatable, or comma-separated)', collect)
    .option('--subject <subject>', 'only events about this subject (repeatable)', collect)
    .option('--partition <id>', 'only this partition (repeatable)', collect)
    .option('--no-follow', 'stop at the end of the log instead of waiting for more')
    .option('--limit <n>', 'stop after this many events', wholeNumber(1));
  examples(command, [
    'riverlog tail --log sqlite:./retail.db --from earliest',
    'riverlog tail --type product/create,product/image --subject p-boot',
    'riverlog tail --from 2026-11-22T08:00:00Z --no-follow --json | jq .data',
    'riverlog tail --partition 0 --from 0:100 --limit 10',
  ]);
  command.action(
    run<TailOptions>(async ({ ctx, out, options, signal }) => {
      const log = await ctx.log();
      const from = parseFrom(options.from, 'latest');
      const subjects = options.subject ? new Set(options.subject) : undefined;
      const width = out.isTTY && !out.json ? process.stdout.columns : undefined;
      const stop = new AbortController();
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      let shown = 0;
      for await (const batch of read(log, from, options, stop.signal)) {
        for (const record of batch.records) {
          const event = record.event as { subject?: unknown } | undefined;
          if (subjects && !(typeof event?.subject === 'string' && subjects.has(event.subject))) continue;
          if (out.json) {
            if (record.event === undefined)
              out.note(
                `riverlog: skipped the record at ${record.position.partition}:${record.position.offset}: not an envelope (${record.error ?? 'unreadable'})`,
              );
            else out.data(record.event);
          } else {
            out.line(eventLine(record, out.color, width));
          }
          shown++;
          if (options.limit !== undefined && shown >= options.limit) {
            stop.abort();
            break;
          }
        }
        await drained();
        if (stop.signal.aborted) break;
      }
    }),
  );
}

function read(log: EventLog, from: ReturnType<typeof parseFrom>, options: TailOptions, signal: AbortSignal): AsyncIterable<ReadBatch> {
  const common = { from, follow: options.follow, signal, ...(options.type ? { types: options.type } : {}) };
  return options.partition ? log.read({ ...common, partitions: options.partition }) : readLineage(log, common);
}
