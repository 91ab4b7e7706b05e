import { Command, CommanderError, Option } from 'commander';
import { collect } from './args.js';
import { registerCheck } from './commands/check.js';
import { registerDeadLetters } from './commands/dead-letters.js';
import { registerHistory } from './commands/history.js';
import { registerLambda } from './commands/lambda.js';
import { registerReplay } from './commands/replay.js';
import { registerStatus } from './commands/status.js';
import { registerTail } from './commands/tail.js';
import { registerViews } from './commands/views.js';
import { EXIT, errorLine, exitCodeOf } from './errors.js';
import { makeOutput } from './output.js';
import { makeRun } from './program-kit.js';

const EXIT_CODES = `
Addresses:
  a log       sqlite:<path>  kafka://<host:port>[,<host:port>]/<topic>  kinesis://<stream>
  a store     sqlite:<path>  dynamodb://<host:port>?prefix=<p>  dynamodb:?region=<r>&prefix=<p>
  or a riverlog.config.{js,mjs,json} in the working directory (or --config) naming them,
  the catalog module and the views modules.

Exit codes:
  0  ok
  1  a failure found (a violation, a dead letter, a failing handler) or the command failed
  2  a usage error (unknown command or option, missing or malformed argument)

Errors are one line on stderr: riverlog: <CODE>: <what, where, what to do>.
Colour only on a terminal, never with NO_COLOR.
`;

/**
 * Builds the `riverlog` program: global options and every command.
 *
 * @example
 * const code = await main(['node', 'riverlog', 'status', '--log', 'sqlite:./retail.db']);
 */
export function buildProgram(signal: AbortSignal, setExit: (code: number) => void): Command {
  const program = new Command('riverlog')
    .description('See, check, replay and repair a riverlog event log from a terminal.')
    .option('--log <uri>', 'the log (default: RIVERLOG_LOG, else the config file)')
    .option('--catalog <module>', 'a JavaScript module exporting the catalog, optionally #export')
    .option('--config <file>', 'a riverlog.config.{js,mjs,json} (default: the one in the working directory)')
    .option('--store <uri>', 'the view store, e.g. sqlite:./views.db')
    .option('--checkpoints <uri>', 'the checkpoint store of consumer groups')
    .option('--dead-letters <uri>', 'the dead-letter store')
    .option('--leases <uri>', 'the lease store')
    .option('--views <module>', 'a module exporting views (repeatable; #export to pick one)', collect)
    .option('--group <name>', 'a consumer group (repeatable)', collect)
    .option('--json', 'print data as JSON (one document, or one per line for streams)')
    .addOption(new Option('--no-color', 'no colour even on a terminal (NO_COLOR does the same)'))
    .showHelpAfterError(false)
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  const run = makeRun(signal, setExit);
  registerTail(program, run);
  registerStatus(program, run);
  registerCheck(program, run);
  registerReplay(program, run);
  registerHistory(program, run);
  registerDeadLetters(program, run);
  registerViews(program, run);
  registerLambda(program, run);
  return program;
}

/**
 * Runs `riverlog` with `argv` (as `process.argv`) and resolves with the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const stop = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed pipe (`riverlog tail | head`) ends the command quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') stop.abort();
  });
  let code: number = EXIT.ok;
  const program = buildProgram(stop.signal, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      if (error.code === 'commander.help') return EXIT.ok;
      const message = error.message.replace(/^error: /, '');
      process.stderr.write(`${makeOutput({}).errColor.red(`riverlog: INVALID_OPTION: ${message}`)} (see riverlog --help)\n`);
      return EXIT.usage;
    }
    process.stderr.write(`${makeOutput({}).errColor.red(errorLine(error))}\n`);
    return exitCodeOf(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}
