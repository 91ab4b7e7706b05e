import { RiverlogError } from './errors.js';

/** Edit distance between two short names (for "did you mean"). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/**
 * The known name closest to `name`, when one is close enough to be a likely
 * misspelling (or a name riverlog used to have, such as `deadLetter`).
 *
 * @example
 * closestName('deadLeter', ['deadLetters', 'log']); // 'deadLetters'
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const allowed = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

/**
 * Refuses options a function does not know, for plain-JavaScript callers: an
 * `INVALID_OPTION` error naming the option, the closest known name and the
 * whole list. Also refuses a non-object.
 *
 * @example
 * checkOptions('createConsumer', options, ['log', 'catalog', 'group', 'handlers', 'deadLetters']);
 * // createConsumer({ deadLetter }) → INVALID_OPTION: createConsumer: unknown option "deadLetter"; did you mean "deadLetters"? …
 */
export function checkOptions(where: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}.`,
    );
  }
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const suggestion = closestName(name, known);
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: unknown option ${JSON.stringify(name)}${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : '.'} Known options: ${known.join(', ')}.`,
    );
  }
}
