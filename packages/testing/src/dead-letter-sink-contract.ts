import type { DeadLetter, DeadLetterSink } from '@riverlog/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** What a contract factory hands the suite: a fresh, empty sink, and how to read what it stored. */
export interface DeadLetterSinkUnderTest {
  readonly sink: DeadLetterSink;
  /**
   * Every letter the storage holds now, in any order, read the way an
   * operator would (for durable sinks: through a new connection).
   */
  readonly stored: () => Promise<readonly DeadLetter[]>;
  /** Closes the sink and removes what it left behind. Runs after each test. */
  readonly cleanup?: () => Promise<void>;
}

const GROUP = 'contract-group';

function letter(offset: string, more: Partial<DeadLetter> = {}, partition = '0'): DeadLetter {
  return {
    group: GROUP,
    record: {
      position: { partition, offset },
      event: { specversion: '1.0', id: `id-${offset}`, type: 'contract/thing', data: { n: Number(offset) } },
    },
    code: 'HANDLER_FAILED',
    reason: `handler failed at ${offset}`,
    attempts: 3,
    at: '2026-01-02T03:04:05.000Z',
    ...more,
  };
}

/** What identifies a stored letter in these tests. */
const where = (letters: readonly DeadLetter[]) =>
  letters.map((l) => `${l.group}/${l.record.position.partition}/${l.record.position.offset}`);

/**
 * The behaviour every `DeadLetterSink` must have: a letter is stored once
 * `send` resolves, with everything it carried, and a letter sent again for
 * the same group and position (a retry after a crash or a conflict) is kept
 * once. Registers a vitest `describe` block.
 *
 * @example
 * import { memoryDeadLetters } from '@riverlog/core';
 * import { describeDeadLetterSinkContract } from '@riverlog/testing';
 *
 * describeDeadLetterSinkContract('memory dead letters', async () => {
 *   const sink = memoryDeadLetters();
 *   return { sink, stored: async () => sink.letters };
 * });
 */
export function describeDeadLetterSinkContract(name: string, factory: () => Promise<DeadLetterSinkUnderTest>): void {
  describe(`DeadLetterSink contract: ${name}`, () => {
    let subject: DeadLetterSinkUnderTest;

    beforeEach(async () => {
      subject = await factory();
    });

    afterEach(async () => {
      await subject.cleanup?.();
    });

    it('stores every letter once send resolves, with its record, code, reason, attempts and time', async () => {
      const first = letter('4');
      const second = letter('5', { code: 'UNKNOWN_EVENT_TYPE', reason: 'not in the catalog', attempts: 1 });
      await subject.sink.send([first, second]);
      const stored = [...(await subject.stored())].sort((a, b) => Number(a.record.position.offset) - Number(b.record.position.offset));
      expect(stored).toEqual([first, second]);
    });

    it('stores a record that is not an envelope with its raw text and why', async () => {
      const raw = letter('6', {
        code: 'DECODE_FAILED',
        reason: 'not JSON',
        attempts: 0,
        record: { position: { partition: '0', offset: '6' }, event: undefined, raw: '{oops', error: 'Unexpected token o' },
      });
      await subject.sink.send([raw]);
      const [stored] = await subject.stored();
      expect(stored?.record.raw).toBe('{oops');
      expect(stored?.record.error).toBe('Unexpected token o');
      expect(stored?.record.event).toBeUndefined();
      expect(stored?.code).toBe('DECODE_FAILED');
    });

    it('an empty send stores nothing', async () => {
      await subject.sink.send([]);
      expect(await subject.stored()).toEqual([]);
    });

    it('keeps a letter sent again for the same group and position once (a retry), the first one', async () => {
      await subject.sink.send([letter('4'), letter('5')]);
      await subject.sink.send([letter('4', { attempts: 4, at: '2026-01-02T03:04:06.000Z' }), letter('6')]);
      await subject.sink.send([letter('6'), letter('6')]);
      expect(where(await subject.stored()).sort()).toEqual([`${GROUP}/0/4`, `${GROUP}/0/5`, `${GROUP}/0/6`]);
    });

    it('keeps letters of other groups and other partitions at the same offset apart', async () => {
      await subject.sink.send([letter('4'), letter('4', {}, '1'), letter('4', { group: 'another-group' })]);
      expect(where(await subject.stored()).sort()).toEqual([`${GROUP}/0/4`, `${GROUP}/1/4`, 'another-group/0/4'].sort());
    });
  });
}
