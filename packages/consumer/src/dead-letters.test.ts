import { createEvent, type DeadLetter, defineCatalog, defineEvent, memoryLog, t } from '@riverlog/core';
import { describe, expect, it } from 'vitest';
import { classifyRecord } from './classify.js';
import { deadLetterCatalog, logDeadLetters } from './dead-letters.js';

const catalog = defineCatalog([defineEvent('ping', { data: { n: t.number } })]);

async function readAll(log: ReturnType<typeof memoryLog>) {
  const records = [];
  for await (const batch of log.read()) records.push(...batch.records);
  return records;
}

describe('logDeadLetters', () => {
  const letter: DeadLetter = {
    group: 'emailer',
    record: { position: { partition: '3', offset: '41' }, event: { type: 'ping', data: { n: 'x' } } },
    code: 'DECODE_FAILED',
    reason: 'payload invalid: data.n: expected number, got "x"',
    attempts: 0,
    at: '2024-05-01T10:00:00.000Z',
  };

  it('appends each letter as a riverlog/dead-letter event that decodes with deadLetterCatalog', async () => {
    const log = memoryLog({ partitions: 2 });
    const sink = logDeadLetters(log, { source: 'emailer' });
    await sink.send([letter]);
    await sink.send([letter]); // sent again: stored once
    const records = await readAll(log);
    expect(records).toHaveLength(1);
    const decoded = deadLetterCatalog.decode(records[0]?.event);
    expect(decoded._tag).toBe('Right');
    if (decoded._tag !== 'Right') return;
    expect(decoded.right).toMatchObject({
      type: 'riverlog/dead-letter',
      source: 'emailer',
      subject: 'emailer/3',
      time: letter.at,
      data: {
        group: 'emailer',
        code: 'DECODE_FAILED',
        reason: letter.reason,
        attempts: 0,
        partition: '3',
        offset: '41',
        event: letter.record.event,
        raw: null,
        error: null,
        truncated: false,
      },
    });
  });

  it('cuts what does not fit the log, keeping the reason and position', async () => {
    const log = memoryLog({ maxEventBytes: 2000 });
    const big: DeadLetter = {
      ...letter,
      record: { position: letter.record.position, event: undefined, raw: 'y'.repeat(10_000), error: 'not JSON' },
    };
    await logDeadLetters(log).send([big]);
    const [record] = await readAll(log);
    const data = (record?.event as { data: Record<string, unknown> } | undefined)?.data ?? {};
    expect(data.truncated).toBe(true);
    expect(data.reason).toBe(letter.reason);
    expect(data.offset).toBe('41');
    expect((data.raw as string).length).toBeGreaterThan(100);
    expect((data.raw as string).length).toBeLessThan(2000);
  });
});

describe('classifyRecord', () => {
  const envelope = createEvent(catalog, 'ping', 'x', { n: 1 }, { source: 's' });

  it('treats a record that is not an envelope as such, saying why and where', () => {
    const classified = classifyRecord(catalog, {
      position: { partition: '1', offset: '7' },
      event: undefined,
      raw: '{oops',
      error: 'not JSON',
    });
    expect(classified.kind).toBe('not-envelope');
    if (classified.kind !== 'not-envelope') return;
    expect(classified.error.message).toBe('Cannot decode record at partition 1, offset 7: not an envelope: not JSON');
    expect(classified.error.code).toBe('DECODE_FAILED');
  });

  it('tells an unknown type, a newer version and an invalid payload apart', () => {
    const at = { partition: '0', offset: '1' };
    const unknown = classifyRecord(catalog, { position: at, event: { ...envelope, type: 'pong', dataschema: 'urn:x:pong@1' } });
    expect(unknown).toMatchObject({ kind: 'unknown-type', type: 'pong' });
    const newer = classifyRecord(catalog, { position: at, event: { ...envelope, dataschema: catalog.dataschema('ping', 2) } });
    expect(newer).toMatchObject({ kind: 'unreadable', error: { kind: 'newer-version', code: 'UNREADABLE_VERSION' } });
    const invalid = classifyRecord(catalog, { position: at, event: { ...envelope, data: { n: 'one' } } });
    expect(invalid).toMatchObject({ kind: 'unreadable', error: { kind: 'invalid', code: 'DECODE_FAILED' } });
    // Unknown fields are dropped, not refused (tolerant reader).
    const extra = classifyRecord(catalog, { position: at, event: { ...envelope, data: { n: 1, colour: 'red' } } });
    expect(extra).toMatchObject({ kind: 'event', event: { data: { n: 1 } } });
    expect(extra.kind === 'event' && extra.event.data).toEqual({ n: 1 });
  });
});
