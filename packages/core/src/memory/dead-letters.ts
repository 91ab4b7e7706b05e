import type { DeadLetter, DeadLetterSink } from '../ports.js';

/**
 * A dead-letter sink that keeps letters in an array, for tests. A letter
 * sent again for the same group and position (a retry) is kept once: the
 * first one stays.
 *
 * @example
 * const deadLetters = memoryDeadLetters();
 * // ... after consuming:
 * deadLetters.letters.map((l) => l.reason);
 */
export function memoryDeadLetters(): DeadLetterSink & { readonly letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  const kept = new Set<string>();
  return {
    letters,
    async send(batch) {
      for (const letter of batch) {
        const { partition, offset } = letter.record.position;
        const id = `${letter.group}\u0000${partition}\u0000${offset}`;
        if (kept.has(id)) continue;
        kept.add(id);
        letters.push(letter);
      }
    },
  };
}
