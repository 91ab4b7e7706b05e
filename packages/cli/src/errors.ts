import { RiverlogError } from '@riverlog/core';

/**
 * Exit codes of `riverlog`: 0 ok, 1 a failure found (a violation, a dead
 * letter that failed again, a handler that failed) or the command could not
 * finish (the error line says which), 2 a usage error (an unknown command or
 * option, a missing or malformed argument).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * A usage error: bad arguments, a missing address or module. Exits 2 with
 * one line, code `INVALID_OPTION`.
 *
 * @example
 * throw new UsageError('tail needs a log: pass --log sqlite:./retail.db or a riverlog.config.json naming one.');
 */
export class UsageError extends RiverlogError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_OPTION', message, options);
  }
}

/** The exit code for an error: 2 for usage errors (and riverlog's `INVALID_OPTION`), else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof RiverlogError && error.code === 'INVALID_OPTION') return EXIT.usage;
  return EXIT.failure;
}

/** One line for an error: `riverlog: CODE: message`, newlines folded. */
export function errorLine(error: unknown): string {
  const code = error instanceof RiverlogError ? error.code : ((error as { code?: unknown })?.code ?? 'ERROR');
  const message = error instanceof Error ? error.message : String(error);
  return `riverlog: ${String(code)}: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
