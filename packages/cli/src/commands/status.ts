import type { Lag, Lease, PartitionInfo } from '@riverlog/core';
import type { Command } from 'commander';
import { wholeNumber } from '../args.js';
import type { Context } from '../config.js';
import { table } from '../format.js';
import { lagAfter, lagText, type PartitionHead, partitionHead, totalLag } from '../heads.js';
import { kafkaTopicState } from '../kafka-admin.js';
import type { Output } from '../output.js';
import { examples, type Run } from '../program-kit.js';

interface StatusOptions {
  readonly watch?: number | true;
}

/** One partition of the log as `status --json` prints it. */
export interface PartitionReport extends PartitionInfo, PartitionHead {}

/** A consumer group or a view: how far it got per partition and how far behind. */
export interface ReaderReport {
  readonly partitions: { readonly partition: string; readonly checkpoint: string | null; readonly lag: Lag }[];
  readonly lag: Lag;
  readonly leases: { readonly partition: string; readonly owner: string | null; readonly epoch: number }[];
}

export interface GroupReport extends ReaderReport {
  readonly group: string;
  /** Where the checkpoints were read: the checkpoint store, or Kafka's group offsets. */
  readonly source: 'checkpoints' | 'kafka';
}

export interface ViewReport extends ReaderReport {
  readonly name: string;
  readonly table: string;
  /** The table reads of the view's name go to. */
  readonly alias: string | null;
}

/** What `riverlog status --json` prints. */
export interface StatusReport {
  readonly log: { readonly uri: string; readonly partitions: readonly PartitionReport[] };
  readonly groups: readonly GroupReport[];
  readonly views: readonly ViewReport[];
  readonly deadLetters: { readonly total: number; readonly byGroup: Readonly<Record<string, number>> } | null;
  readonly at: string;
}

export function registerStatus(program: Command, run: Run): void {
  const command = program
    .command('status')
    .description('Partitions with lineage, lag per consumer group and per view, lease owners, dead-letter counts.')
    .option('--watch [seconds]', 'refresh every few seconds (default 2) until interrupted', wholeNumber(1));
  examples(command, [
    'riverlog status --log sqlite:./retail.db',
    'riverlog status --log sqlite:./retail.db --store sqlite:./views.db --views ./dist/services.js --checkpoints sqlite:./views.db --group photo-assignment',
    'riverlog status --log kafka://127.0.0.1:9092/retail-stream --json',
    'riverlog status --watch 5',
  ]);
  command.action(
    run<StatusOptions>(async ({ ctx, out, options, signal }) => {
      if (options.watch === undefined) {
        print(await statusReport(ctx), out);
        return;
      }
      const every = options.watch === true ? 2 : options.watch;
      while (!signal.aborted) {
        const report = await statusReport(ctx);
        if (out.isTTY && !out.json) process.stdout.write('\u001b[2J\u001b[H');
        print(report, out);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, every * 1000);
          signal.addEventListener('abort', () => resolve(clearTimeout(timer)), { once: true });
        });
      }
    }),
  );
}

/**
 * Gathers the status of the log and of everything reading it that the
 * context names: consumer groups (the checkpoint store's, or Kafka's own),
 * views (the views modules' and the view store's tables), leases and dead letters.
 */
export async function statusReport(ctx: Context): Promise<StatusReport> {
  const log = await ctx.log();
  const uri = ctx.logUri() ?? log.uri;
  const kafka = /^kafka:/i.test(uri) ? (await import('@riverlog/kafka')).kafkaOptionsFromUri(uri) : undefined;
  const kafkaState = kafka ? await kafkaTopicState([kafka.brokers ?? []].flat() as string[], kafka.topic) : undefined;
  const infos = await log.partitions();
  const heads = new Map<string, PartitionHead>();
  await Promise.all(infos.map(async (info) => heads.set(info.id, kafkaState?.heads.get(info.id) ?? (await partitionHead(log, info.id)))));
  const partitions = infos.map((info) => ({ ...info, ...heads.get(info.id) }));

  const leases = await ctx.leases();
  const leasesOf = async (group: string) =>
    leases ? (await leases.list(group)).map((l: Lease) => ({ partition: l.partition, owner: l.owner ?? null, epoch: l.epoch })) : [];
  const reader = async (checkpoint: Readonly<Record<string, string>>, leaseGroup: string): Promise<ReaderReport> => {
    const rows = await Promise.all(
      infos.map(async (info) => ({
        partition: info.id,
        checkpoint: checkpoint[info.id] ?? null,
        lag: await lagAfter(log, info.id, checkpoint[info.id], heads.get(info.id)),
      })),
    );
    return { partitions: rows, lag: totalLag(rows.map((r) => r.lag)), leases: await leasesOf(leaseGroup) };
  };

  const deadLetterStore = await ctx.deadLetters();
  const letters = deadLetterStore ? await deadLetterStore.list() : undefined;
  const byGroup: Record<string, number> = {};
  for (const letter of letters ?? []) byGroup[letter.group] = (byGroup[letter.group] ?? 0) + 1;

  const groups: GroupReport[] = [];
  const checkpoints = await ctx.checkpoints();
  for (const group of ctx.groups()) {
    if (checkpoints) groups.push({ group, source: 'checkpoints', ...(await reader(await checkpoints.load(group), group)) });
    else if (kafkaState) groups.push({ group, source: 'kafka', ...(await reader(kafkaState.groups.get(group) ?? {}, group)) });
  }
  for (const [group, committed] of kafkaState?.groups ?? []) {
    if (!groups.some((g) => g.group === group)) groups.push({ group, source: 'kafka', ...(await reader(committed, group)) });
  }

  const views: ViewReport[] = [];
  const store = await ctx.viewStore();
  if (store) {
    const tables = new Map<string, string>();
    for (const view of await ctx.views()) tables.set(view.table, view.name);
    for (const name of (await store.tables?.()) ?? []) tables.set(name, name.replace(/@\d+$/, ''));
    for (const [tableName, name] of [...tables].sort(([a], [b]) => a.localeCompare(b))) {
      views.push({
        name,
        table: tableName,
        alias: (await store.alias(name)) ?? null,
        ...(await reader(await store.positions(tableName), `view:${tableName}`)),
      });
    }
  }
  return {
    log: { uri: log.uri, partitions },
    groups,
    views,
    deadLetters: letters ? { total: letters.length, byGroup } : null,
    at: new Date().toISOString(),
  };
}

function print(report: StatusReport, out: Output): void {
  if (out.json) {
    out.data(report);
    return;
  }
  const c = out.color;
  out.line(`${c.bold('log')} ${report.log.uri}`);
  out.line(
    table(
      ['partition', 'parents', 'state', 'first', 'head', 'records'],
      report.log.partitions.map((p) => [
        p.id,
        p.parents.join(',') || '—',
        p.closed ? 'closed' : 'open',
        p.first ?? '—',
        p.head ?? '—',
        p.records ?? '?',
      ]),
      c,
    ),
  );
  const readers = [
    ...report.groups.map((g) => ({ kind: `group (${g.source})`, name: g.group, report: g, alias: '' })),
    ...report.views.map((v) => ({ kind: 'view', name: v.table, report: v, alias: v.alias === v.table ? 'reads' : '' })),
  ];
  if (readers.length > 0) {
    out.line('');
    out.line(
      table(
        ['reader', 'kind', 'lag', 'per partition (checkpoint → lag)', 'lease owners'],
        readers.map(({ kind, name, report: r, alias }) => {
          const lagged = 'records' in r.lag ? r.lag.records > 0 : r.lag.ms > 0;
          return [
            alias ? `${name} ${c.dim('(alias)')}` : name,
            kind,
            lagged ? c.yellow(lagText(r.lag)) : c.green(lagText(r.lag)),
            r.partitions.map((p) => `${p.partition}:${p.checkpoint ?? '–'}→${lagText(p.lag)}`).join(' '),
            r.leases.map((l) => `${l.partition}=${l.owner ?? 'released'}#${l.epoch}`).join(' ') || '—',
          ];
        }),
        c,
      ),
    );
  } else {
    out.line(c.dim('\nno consumer group or view named: pass --group/--checkpoints, --store/--views, or a config file'));
  }
  if (report.deadLetters) {
    const entries = Object.entries(report.deadLetters.byGroup);
    out.line('');
    out.line(
      `${c.bold('dead letters')} ${report.deadLetters.total === 0 ? c.green('0') : c.red(String(report.deadLetters.total))}${entries.length ? `  (${entries.map(([g, n]) => `${g}: ${n}`).join(', ')})` : ''}`,
    );
  }
}
