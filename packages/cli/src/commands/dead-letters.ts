import type { DeadLetter, Envelope, LogRecord, Position, PositionMap } from '@riverlog/core';
import { compareOffsets, decodeRecord, PARTITION_END } from '@riverlog/core';
import type { Command } from 'commander';
import type { DeadLetterStore } from '../addresses.js';
import { collect, parsePositions } from '../args.js';
import type { Context } from '../config.js';
import { EXIT, UsageError } from '../errors.js';
import { table, truncate } from '../format.js';
import { loadHandlerMap } from '../modules.js';
import type { Output } from '../output.js';
import { examples, type Run } from '../program-kit.js';
import { findView } from '../views-lookup.js';

interface SelectOptions {
  readonly at?: string[];
  readonly code?: string[];
}

/** A dead letter as `dead-letters list --json` prints it. */
function summary(letter: DeadLetter) {
  const event = letter.record.event as { id?: unknown; type?: unknown; subject?: unknown } | undefined;
  return {
    group: letter.group,
    position: letter.record.position,
    code: letter.code,
    reason: letter.reason,
    attempts: letter.attempts,
    at: letter.at,
    ...(typeof event?.id === 'string' ? { id: event.id } : {}),
    ...(typeof event?.type === 'string' ? { type: event.type } : {}),
    ...(typeof event?.subject === 'string' ? { subject: event.subject } : {}),
  };
}

const where = (p: Position) => `${p.partition}:${p.offset}`;

/** The letters of the group(s) asked for, narrowed to `--at` positions and `--code`s. */
async function select(store: DeadLetterStore, group: string | undefined, options: SelectOptions): Promise<DeadLetter[]> {
  let letters = await store.list(group);
  if (options.at) {
    const wanted = new Set(
      options.at.map((at) => {
        const map = parsePositions(at);
        if (!map) throw new UsageError(`--at ${JSON.stringify(at)}: expected partition:offset.`);
        return Object.entries(map).map(([p, o]) => `${p}:${o}`)[0];
      }),
    );
    letters = letters.filter((l) => wanted.has(where(l.record.position)));
  }
  if (options.code) letters = letters.filter((l) => options.code?.includes(l.code));
  return letters;
}

function oneGroup(options: { readonly group?: readonly string[] }, ctx: Context, what: string): string {
  const groups = options.group ?? ctx.groups();
  if (groups.length !== 1)
    throw new UsageError(`dead-letters ${what} needs one --group (a consumer group, or a view table such as products@1).`);
  return groups[0] as string;
}

export function registerDeadLetters(program: Command, run: Run): void {
  const command = program.command('dead-letters').description('List, show, retry and purge dead letters (--dead-letters <uri>).');
  examples(command, [
    'riverlog dead-letters list --dead-letters sqlite:./views.db',
    'riverlog dead-letters show 2:41 --group emailer',
    'riverlog dead-letters retry --group emailer --handlers ./dist/emailer-handlers.js',
    'riverlog dead-letters retry --view products --views ./dist/views.js --store sqlite:./views.db',
    'riverlog dead-letters purge --group emailer --code HANDLER_FAILED',
  ]);

  const list = command
    .command('list')
    .description('The dead letters of one group (--group) or of all, oldest first.')
    .option('--code <code>', 'only letters of this code (repeatable)', collect);
  examples(list, ['riverlog dead-letters list --group emailer --json', 'riverlog dead-letters list --code DECODE_FAILED']);
  list.action(
    run<SelectOptions>(async ({ ctx, out, options }) => {
      const store = await ctx.requireDeadLetters();
      const groups = options.group ?? [];
      const letters =
        groups.length === 0
          ? await select(store, undefined, options)
          : (await Promise.all(groups.map((g) => select(store, g, options)))).flat();
      if (out.json) {
        out.data(letters.map(summary));
        return;
      }
      if (letters.length === 0) {
        out.line(out.color.green('no dead letters'));
        return;
      }
      out.line(
        table(
          ['group', 'position', 'type', 'subject', 'code', 'attempts', 'reason'],
          letters.map((l) => {
            const s = summary(l);
            return [s.group, where(s.position), s.type ?? '—', s.subject ?? '—', out.color.red(s.code), s.attempts, truncate(s.reason, 80)];
          }),
          out.color,
        ),
      );
    }),
  );

  const show = command
    .command('show')
    .argument('<position>', 'partition:offset of the letter')
    .description('One dead letter: the raw record as the log returned it, and why it was given up on.');
  examples(show, ['riverlog dead-letters show 2:41 --group emailer', 'riverlog dead-letters show 0:7 --json']);
  show.action(
    run<SelectOptions>(async ({ ctx, out, options, args }) => {
      const store = await ctx.requireDeadLetters();
      const letters = await select(store, options.group?.[0], { at: [args[0] as string] });
      if (letters.length === 0)
        throw new UsageError(`No dead letter at ${args[0]}${options.group ? ` in group ${options.group[0]}` : ''}.`);
      if (out.json) {
        out.data(letters.map((l) => ({ ...summary(l), record: l.record })));
        return;
      }
      for (const l of letters) {
        const c = out.color;
        out.line(
          `${c.bold('group')}     ${l.group}\n${c.bold('position')}  ${where(l.record.position)}\n${c.bold('code')}      ${c.red(l.code)}\n${c.bold('attempts')}  ${l.attempts}\n${c.bold('at')}        ${l.at}\n${c.bold('reason')}    ${l.reason}`,
        );
        out.line(
          `${c.bold('record')}\n${l.record.event !== undefined ? JSON.stringify(l.record.event, null, 2) : `${l.record.raw ?? ''}\n${c.dim(`(not an envelope: ${l.record.error ?? 'unreadable'})`)}`}`,
        );
      }
    }),
  );

  const retry = command
    .command('retry')
    .description(
      "Re-deliver a consumer group's letters to its handlers (removed once handled), or re-fold a view's by rebuilding the fixed version.",
    )
    .option(
      '--handlers <module>',
      "the group's handler map (export handlers, default, or #name), as createConsumer takes it; default: the config's handlers[group]",
    )
    .option(
      '--view <name>',
      'retry the letters of an older version of this view: build the fixed version (views modules) from the log and switch reads to it',
    )
    .option('--drop-previous', 'with --view: drop the version that dead-lettered them once reads switched')
    .option('--at <position>', 'only the letter at partition:offset (repeatable)', collect)
    .option('--code <code>', 'only letters of this code (repeatable)', collect);
  examples(retry, [
    'riverlog dead-letters retry --group emailer --handlers ./dist/emailer-handlers.js',
    'riverlog dead-letters retry --group emailer --at 2:41',
    'riverlog dead-letters retry --view products   # products@1 dead-lettered; products@2 has the fix',
  ]);
  retry.addHelpText(
    'after',
    "\nA consumer group's letters go to its handlers again, one by one in log order, each decoded with the catalog; a\nletter handled is removed, one that fails again stays (exit 1). A view is a fold of the whole log: its letters\ncannot be patched into rows that have folded later events, so raise the view's version with the fix; retry builds\nthat version from the start of the log beside the old one, switches reads to it, and removes the old version's\nletters that the new one folded.\n",
  );
  retry.action(
    run<SelectOptions & { readonly handlers?: string; readonly view?: string; readonly dropPrevious?: boolean }>(
      async ({ ctx, out, options, signal }) => {
        const store = await ctx.requireDeadLetters();
        if (typeof store.remove !== 'function')
          throw new UsageError('This dead-letter store cannot remove letters, so retry cannot clear them.');
        if (options.view !== undefined) return retryView(ctx, out, store, options.view, options);
        const group = oneGroup(options, ctx, 'retry');
        const letters = await select(store, group, options);
        const configured = options.handlers === undefined ? ctx.handlersOf(group) : { spec: options.handlers, base: ctx.cwd };
        if (!configured)
          throw new UsageError(
            `retry needs the handlers of group ${group}: --handlers <module>, or "handlers": { "${group}": "<module>" } in riverlog.config.json.`,
          );
        const handlers = await loadHandlerMap(configured.spec, configured.base);
        const catalog = await ctx.catalog();
        const results: { position: Position; id?: string; ok: boolean; reason?: string }[] = [];
        for (const letter of letters) {
          if (signal.aborted) break;
          const { record } = letter;
          const outcome = await redeliver(record, letter, handlers, catalog, signal);
          if (outcome.ok) await store.remove(group, [record.position]);
          const id = (record.event as { id?: unknown } | undefined)?.id;
          results.push({ position: record.position, ...(typeof id === 'string' ? { id } : {}), ...outcome });
          if (!out.json) {
            out.line(
              outcome.ok
                ? `${out.color.green('✓')} ${where(record.position)} delivered, letter removed`
                : `${out.color.red('✗')} ${where(record.position)} failed again: ${outcome.reason}`,
            );
          }
        }
        const failed = results.filter((r) => !r.ok).length;
        if (out.json) out.data({ group, retried: results.length, delivered: results.length - failed, failed, results });
        else
          out.line(
            `${results.length - failed} of ${results.length} letters of ${group} delivered${failed ? `, ${failed} still failing` : ''}`,
          );
        return failed > 0 ? EXIT.failure : EXIT.ok;
      },
    ),
  );

  const purge = command
    .command('purge')
    .description("Remove a group's dead letters (all of them, or --at / --code).")
    .option('--at <position>', 'only the letter at partition:offset (repeatable)', collect)
    .option('--code <code>', 'only letters of this code (repeatable)', collect);
  examples(purge, ['riverlog dead-letters purge --group emailer', 'riverlog dead-letters purge --group products@1 --at 0:12 --json']);
  purge.action(
    run<SelectOptions>(async ({ ctx, out, options }) => {
      const store = await ctx.requireDeadLetters();
      if (typeof store.remove !== 'function') throw new UsageError('This dead-letter store cannot remove letters.');
      const group = oneGroup(options, ctx, 'purge');
      const letters = await select(store, group, options);
      const removed = await store.remove(
        group,
        letters.map((l) => l.record.position),
      );
      if (out.json) out.data({ group, removed });
      else out.line(`${removed} dead letters of ${group} removed`);
    }),
  );
}

/** Decodes the record again and runs its type's handler once; never throws. */
async function redeliver(
  record: LogRecord,
  letter: DeadLetter,
  handlers: Record<string, unknown>,
  catalog: Awaited<ReturnType<Context['catalog']>>,
  signal: AbortSignal,
): Promise<{ ok: boolean; reason?: string }> {
  const decoded = decodeRecord(catalog, record);
  if (decoded._tag === 'Left') return { ok: false, reason: `${decoded.left.code}: ${decoded.left.message}` };
  const event = decoded.right as Envelope;
  const handler = handlers[event.type];
  // A type the group ignores (or no longer handles) has nothing left to do.
  if (typeof handler !== 'function') return { ok: true };
  try {
    await (handler as (event: Envelope, context: unknown) => unknown)(event, {
      group: letter.group,
      position: record.position,
      attempt: letter.attempts + 1,
      signal,
      record,
    });
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

async function retryView(
  ctx: Context,
  out: Output,
  store: DeadLetterStore,
  name: string,
  options: SelectOptions & { readonly dropPrevious?: boolean },
): Promise<number> {
  const view = await findView(ctx, name);
  const views = await ctx.requireViewStore();
  const all = await store.list();
  const older = all.filter((l) => l.group.startsWith(`${view.name}@`) && l.group !== view.table);
  const own = all.filter((l) => l.group === view.table);
  if (older.length === 0) {
    if (own.length > 0) {
      throw new UsageError(
        `${own.length} letters belong to ${view.table}, the version the views modules define: a view's letters are re-folded by building a fixed version. Raise ${view.name}'s version with the fix (${view.name}@${view.version + 1}) and retry.`,
      );
    }
    out.line(`no dead letters of older versions of ${view.name}`);
    return EXIT.ok;
  }
  const { rebuildView } = await import('@riverlog/view-builder');
  const log = await ctx.log();
  const rebuilt = await rebuildView(view, { log, store: views, deadLetters: store, dropPrevious: options.dropPrevious === true });
  // The new version folded everything up to its checkpoint; what it could not fold is in its own letters.
  const again = new Set((await store.list(view.table)).map((l) => where(l.record.position)));
  const folded = (l: DeadLetter) => reachedCheckpoint(rebuilt.positions, l.record.position) && !again.has(where(l.record.position));
  const removed: Position[] = [];
  for (const group of new Set(older.map((l) => l.group))) {
    const positions = older.filter((l) => l.group === group && folded(l)).map((l) => l.record.position);
    await store.remove?.(group, positions);
    removed.push(...positions);
  }
  const report = {
    view: view.table,
    previous: rebuilt.previous ?? null,
    dropped: rebuilt.dropped,
    refolded: removed.length,
    failed: again.size,
    positions: rebuilt.positions,
  };
  if (out.json) out.data(report);
  else
    out.line(
      `${rebuilt.table} built from the log and reads switched from ${rebuilt.previous ?? 'nothing'}: ${removed.length} letters re-folded and removed${again.size ? `, ${again.size} failing in ${view.table}` : ''}`,
    );
  return again.size > 0 ? EXIT.failure : EXIT.ok;
}

function reachedCheckpoint(checkpoint: PositionMap, position: Position): boolean {
  const at = checkpoint[position.partition];
  if (at === undefined) return false;
  return at === PARTITION_END || compareOffsets(at, position.offset) >= 0;
}
