/**
 * `@riverlog/cli`: the `riverlog` command. Its parts are exported for
 * scripts that want the same addresses and config file as the command.
 *
 * @example
 * import { main } from '@riverlog/cli';
 * process.exitCode = await main(process.argv);
 */
export { type DeadLetterStore, openCheckpointsUri, openDeadLettersUri, openLeasesUri, openLogUri, openViewStoreUri } from './addresses.js';
export { CONFIG_NAMES, Context, type GlobalOptions, type RiverlogConfig, readConfig } from './config.js';
export { EXIT, UsageError } from './errors.js';
export { buildProgram, main } from './program.js';
