import type { Command } from 'commander';
import type { ListableViewStore } from '../addresses.js';
import { formatPositions } from '../args.js';
import type { Context } from '../config.js';
import { UsageError } from '../errors.js';
import { table } from '../format.js';
import { lagAfter, lagText, logHeads, totalLag } from '../heads.js';
import { examples, type Run } from '../program-kit.js';
import { makeProgress } from '../progress.js';
import { findView } from '../views-lookup.js';

const versionOf = (tableName: string) => {
  const at = tableName.lastIndexOf('@');
  return at > 0 ? { name: tableName.slice(0, at), version: Number(tableName.slice(at + 1)) } : { name: tableName, version: Number.NaN };
};

/** Every table the store names and the views modules define, by view name. */
async function knownTables(
  ctx: Context,
  store: ListableViewStore,
): Promise<{ table: string; name: string; version: number; defined: boolean; stored: boolean }[]> {
  const defined = new Set((await ctx.views()).map((v) => v.table));
  const stored = new Set((await store.tables?.()) ?? []);
  return [...new Set([...defined, ...stored])]
    .map((t) => ({ table: t, ...versionOf(t), defined: defined.has(t), stored: stored.has(t) || !store.tables }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

export function registerViews(program: Command, run: Run): void {
  const command = program
    .command('views')
    .description('View versions and aliases: list, rebuild, switch, drop (--store <uri>, --views <module>).');
  examples(command, [
    'riverlog views list --store sqlite:./views.db --views ./dist/views.js',
    'riverlog views rebuild products',
    'riverlog views switch products products@1',
    'riverlog views drop products@1',
  ]);

  const list = command.command('list').description('Each version (table) with the alias reads use, its checkpoint and lag.');
  examples(list, ['riverlog views list --json', 'riverlog views list --store sqlite:./views.db']);
  list.action(
    run(async ({ ctx, out }) => {
      const store = await ctx.requireViewStore();
      const tables = await knownTables(ctx, store);
      const log = ctx.hasLog() ? await ctx.log() : undefined;
      const heads = log ? await logHeads(log, ctx.logUri()) : undefined;
      const aliases = new Map<string, string | null>();
      for (const { name } of tables) if (!aliases.has(name)) aliases.set(name, (await store.alias(name)) ?? null);
      const rows = [];
      for (const t of tables) {
        const positions = await store.positions(t.table);
        const lags =
          log && heads ? await Promise.all([...heads.keys()].map((p) => lagAfter(log, p, positions[p], heads.get(p)))) : undefined;
        rows.push({
          ...t,
          alias: aliases.get(t.name) ?? null,
          reads: aliases.get(t.name) === t.table,
          positions,
          ...(lags ? { lag: totalLag(lags) } : {}),
        });
      }
      if (out.json) {
        out.data({ tables: rows, aliases: Object.fromEntries(aliases) });
        return;
      }
      if (rows.length === 0) {
        out.line('no views: the store holds no table and no views module defines one');
        return;
      }
      const c = out.color;
      out.line(
        table(
          ['view', 'version', 'table', 'reads', 'defined', 'checkpoint', 'lag'],
          rows.map((r) => [
            r.name,
            r.version,
            r.table,
            r.reads ? c.green('← alias') : '',
            r.defined ? 'yes' : c.dim('no'),
            formatPositions(r.positions) || '—',
            'lag' in r ? lagText(r.lag) : '?',
          ]),
          c,
        ),
      );
    }),
  );

  const rebuild = command
    .command('rebuild')
    .argument('<view>', 'a view of the views modules: name (its highest version) or name@version')
    .description('Build this version from the start of the log beside the one reads use, then switch reads to it.')
    .option('--drop-previous', 'drop the version reads used before, once switched');
  examples(rebuild, ['riverlog views rebuild products', 'riverlog views rebuild products@3 --drop-previous --json']);
  rebuild.action(
    run<{ readonly dropPrevious?: boolean }>(async ({ ctx, out, options, args, signal }) => {
      const view = await findView(ctx, args[0] as string);
      const store = await ctx.requireViewStore({ create: true });
      const log = await ctx.log();
      const deadLetters = await ctx.deadLetters({ create: true });
      const progress = makeProgress(out, `built ${view.table}:`, undefined);
      let records = 0;
      const { rebuildView } = await import('@riverlog/view-builder');
      const result = await rebuildView(view, {
        log,
        store,
        ...(deadLetters ? { deadLetters } : {}),
        signal,
        dropPrevious: options.dropPrevious === true,
        onCommit: (info) => {
          records += info.records;
          progress.update(records);
        },
      });
      progress.stop();
      if (out.json) out.data({ ...result, records });
      else
        out.line(
          `${out.color.green('✓')} ${result.table} built (${records} records); reads switched from ${result.previous ?? 'nothing'}${result.dropped ? `, ${result.previous} dropped` : ''}`,
        );
    }),
  );

  const switcher = command
    .command('switch')
    .argument('<view>', 'the view name')
    .argument('<table>', 'the table (or version number) reads should go to, e.g. products@1 or 1')
    .description('Point reads of a view at another version (a rollback too); the table must exist.');
  examples(switcher, ['riverlog views switch products products@1', 'riverlog views switch products 2']);
  switcher.action(
    run(async ({ ctx, out, args }) => {
      const [name, target] = args as [string, string];
      const tableName = /^\d+$/.test(target) ? `${name}@${target}` : target;
      const store = await ctx.requireViewStore();
      const stored = await store.tables?.();
      if (stored && !stored.includes(tableName))
        throw new UsageError(`No table ${tableName} in the view store; it holds ${stored.join(', ') || 'none'}.`);
      const previous = await store.alias(name);
      if (!(await store.setAlias(name, tableName, previous))) throw new UsageError(`Reads of ${name} moved while switching; run it again.`);
      if (out.json) out.data({ view: name, table: tableName, previous: previous ?? null });
      else out.line(`reads of ${name}: ${previous ?? 'nothing'} → ${tableName}`);
    }),
  );

  const drop = command
    .command('drop')
    .argument('<table>', 'the version to drop, e.g. products@1')
    .description('Remove a version: its rows, ids and checkpoint. Refused for the version reads use unless --force.')
    .option('--force', 'drop it even if reads go to it');
  examples(drop, ['riverlog views drop products@1']);
  drop.action(
    run<{ readonly force?: boolean }>(async ({ ctx, out, options, args }) => {
      const tableName = args[0] as string;
      const store = await ctx.requireViewStore();
      const { name } = versionOf(tableName);
      if (!options.force && (await store.alias(name)) === tableName) {
        throw new UsageError(
          `Reads of ${name} go to ${tableName}: switch them to another version first (riverlog views switch), or pass --force.`,
        );
      }
      const stored = await store.tables?.();
      if (stored && !stored.includes(tableName)) throw new UsageError(`No table ${tableName} in the view store.`);
      await store.drop(tableName);
      if (out.json) out.data({ dropped: tableName });
      else out.line(`${tableName} dropped`);
    }),
  );
}
