import {
  createEvent,
  type DeadLetter,
  type DeadLetterSink,
  defineCatalog,
  defineEvent,
  type Envelope,
  type EventLog,
  envelopeBytes,
} from '@riverlog/core';
import * as t from '@riverlog/core/io-ts';

/**
 * The event a dead letter becomes in a dead-letter log: what was given up
 * on (the stored event, or the raw text of what was not one), why, and where
 * it sat. Read such a log with `deadLetterCatalog`.
 */
export const deadLetterEvent = defineEvent('riverlog/dead-letter', {
  data: {
    group: t.string,
    code: t.string,
    reason: t.string,
    attempts: t.number,
    /** When it was given up on, ISO 8601. */
    at: t.string,
    partition: t.string,
    offset: t.string,
    /** The stored envelope, as read (null when the record was not one, or it was too large to keep). */
    event: t.unknown,
    raw: t.union([t.string, t.null]),
    error: t.union([t.string, t.null]),
    /** True when `event` or `raw` was cut to fit the dead-letter log's event size limit. */
    truncated: t.boolean,
  },
});

/**
 * A catalog of the one dead-letter event type, to read a dead-letter log.
 *
 * @example
 * for await (const batch of deadLetterLog.read()) {
 *   for (const record of batch.records) console.log(deadLetterCatalog.decode(record.event));
 * }
 */
export const deadLetterCatalog = defineCatalog([deadLetterEvent]);

export interface LogDeadLettersOptions {
  /** The `source` of the dead-letter envelopes. Default `riverlog/consumer`. */
  readonly source?: string;
}

type DeadLetterData = t.TypeOf<typeof deadLetterEvent.codec>;

function toData(letter: DeadLetter): DeadLetterData {
  return {
    group: letter.group,
    code: letter.code,
    reason: letter.reason,
    attempts: letter.attempts,
    at: letter.at,
    partition: letter.record.position.partition,
    offset: letter.record.position.offset,
    event: letter.record.event ?? null,
    raw: letter.record.raw ?? null,
    error: letter.record.error ?? null,
    truncated: false,
  };
}

function toEnvelope(letter: DeadLetter, source: string, maxBytes: number): Envelope {
  const { partition, offset } = letter.record.position;
  const data = toData(letter);
  // One id per group and position: a letter sent twice (a retried send, a redelivered record) is stored once.
  const meta = { source, id: `dead-letter/${letter.group}/${partition}/${offset}`, time: letter.at };
  const subject = `${letter.group}/${partition}`;
  let event = createEvent(deadLetterCatalog, 'riverlog/dead-letter', subject, data, meta);
  if (envelopeBytes(event) <= maxBytes) return event;
  // Too large to keep whole: keep the reason and position, and as much of the record's text as fits.
  let text = data.raw ?? JSON.stringify(data.event);
  do {
    text = text.slice(0, Math.floor(text.length / 2));
    event = createEvent(deadLetterCatalog, 'riverlog/dead-letter', subject, { ...data, event: null, raw: text, truncated: true }, meta);
  } while (envelopeBytes(event) > maxBytes && text.length > 0);
  return event;
}

/**
 * A dead-letter sink that appends each letter to another log as a
 * `riverlog/dead-letter` event (see `deadLetterEvent`), so dead letters are
 * kept, replayed and inspected like any other stream. Letters are durable once
 * the log acknowledges the append; the same letter sent twice is stored once.
 *
 * @example
 * const consumer = createConsumer({ ..., deadLetters: logDeadLetters(sqliteLog({ path: 'dead-letters.db' })) });
 */
export function logDeadLetters(log: EventLog, options: LogDeadLettersOptions = {}): DeadLetterSink {
  const source = options.source ?? 'riverlog/consumer';
  return {
    async send(letters) {
      if (letters.length === 0) return;
      await log.append(letters.map((letter) => toEnvelope(letter, source, log.maxEventBytes)));
    },
  };
}
