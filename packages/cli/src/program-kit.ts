import type { Command } from 'commander';
import { Context, type GlobalOptions } from './config.js';
import { makeOutput, type Output } from './output.js';

/** What a command's body gets. */
export interface CommandInput<O> {
  readonly ctx: Context;
  readonly out: Output;
  /** The command's own options with the global ones. */
  readonly options: O & GlobalOptions;
  readonly args: readonly string[];
  /** Aborts on SIGINT/SIGTERM: a command stops cleanly and closes what it opened. */
  readonly signal: AbortSignal;
}

/** A command body: resolves with the exit code (0 when nothing is returned). */
// biome-ignore lint/suspicious/noConfusingVoidType: a body that prints and returns nothing exits 0
export type Body<O> = (input: CommandInput<O>) => Promise<number | undefined | void>;
/** Wraps a body into a commander action: context, output, signal, closing, exit code. */
export type Run = <O>(body: Body<O>) => (...args: unknown[]) => Promise<void>;

/** Adds an "Examples" section to a command's --help. */
export function examples(command: Command, lines: readonly string[]): void {
  command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
}

/**
 * The `Run` of one process: a signal aborted by SIGINT/SIGTERM, and where the exit code goes.
 */
export function makeRun(signal: AbortSignal, setExit: (code: number) => void): Run {
  return <O>(body: Body<O>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as O & GlobalOptions;
      const out = makeOutput({
        ...(options.json !== undefined ? { json: options.json } : {}),
        ...(options.color !== undefined ? { color: options.color } : {}),
      });
      const ctx = await Context.create(options);
      try {
        const code = await body({ ctx, out, options, args: command.args, signal });
        setExit(typeof code === 'number' ? code : 0);
      } finally {
        await ctx.close();
      }
    };
}
