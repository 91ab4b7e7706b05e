import { RiverlogError } from '@riverlog/core';
import { checkOptions } from '@riverlog/core/backend';

/**
 * Checks a spec's options at run time, for plain-JavaScript callers: unknown
 * names (with the closest known one) and numbers out of range are an
 * `INVALID_OPTION` error, thrown before anything runs.
 *
 * @example
 * checkSpecOptions('viewSpec', options, ['shuffles', 'seed'], { shuffles: 0, seed: 0 });
 * // viewSpec(view, { shufles: 8 }) → INVALID_OPTION: viewSpec: unknown option "shufles"; did you mean "shuffles"? …
 */
export function checkSpecOptions(
  where: string,
  options: object,
  known: readonly string[],
  /** Each whole-number option with its least allowed value. */
  minimums: Readonly<Record<string, number>>,
): void {
  checkOptions(where, options, known);
  for (const [name, min] of Object.entries(minimums)) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: option "${name}" must be a whole number ≥ ${min}, got ${typeof value === 'number' ? value : JSON.stringify(value)}.`,
      );
    }
  }
}
