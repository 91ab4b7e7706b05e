import type { KinesisClient, PutRecordsCommand, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { backoffPolicy, createEvent, defineCatalog, defineEvent, type Envelope, type Position, t } from '@riverlog/core';
import { DedupeWindow } from '@riverlog/core/backend';
import { describe, expect, it } from 'vitest';
import { KinesisAppendError, KinesisAppender } from './appender.js';

const Step = defineEvent('test/step', { data: { seq: t.number } });
const catalog = defineCatalog([Step]);
const step = (subject: string, seq: number) => createEvent(catalog, 'test/step', subject, { seq }, { source: 'riverlog/test' });

/**
 * A fake Kinesis that refuses a random share of PutRecords entries (throttled, as a busy shard
 * would) and stores the others in arrival order: what a subject's order looks like in the stream.
 */
function throttlingKinesis(refuse: number, seed = 7, fail?: (call: number) => unknown) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const stored: { key: string; data: string; sequenceNumber: string }[] = [];
  let calls = 0;
  let sequence = 10n ** 20n;
  const client = {
    async send(command: PutRecordsCommand) {
      calls++;
      const failure = fail?.(calls);
      if (failure) throw failure;
      const entries: PutRecordsResultEntry[] = (command.input.Records ?? []).map((record) => {
        if (random() < refuse) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' };
        sequence += 1n;
        stored.push({
          key: record.PartitionKey as string,
          data: Buffer.from(record.Data as Uint8Array).toString(),
          sequenceNumber: String(sequence),
        });
        return { ShardId: 'shardId-000000000000', SequenceNumber: String(sequence) };
      });
      return { Records: entries, FailedRecordCount: entries.filter((e) => e.ErrorCode).length };
    },
  } as unknown as KinesisClient;
  return { client, stored, calls: () => calls };
}

function appender(client: KinesisClient, options: { aggregate?: boolean; appendTimeoutMs?: number } = {}): KinesisAppender {
  return new KinesisAppender({
    client,
    stream: { name: 'test', arn: undefined },
    uri: 'kinesis://test',
    maxRecordBytes: 1024 * 1024,
    maxEventBytes: 1024 * 1024 - 256,
    aggregate: options.aggregate ?? false,
    window: new DedupeWindow(100_000),
    retry: backoffPolicy({ initialMs: 0, maxMs: 1 }),
    closing: new AbortController().signal,
    appendTimeoutMs: options.appendTimeoutMs,
  });
}

/** Each subject's seqs in the order the fake stream stored them. */
function storedOrder(stored: readonly { key: string; data: string }[]): Map<string, number[]> {
  const order = new Map<string, number[]>();
  for (const { key, data } of stored) order.set(key, [...(order.get(key) ?? []), (JSON.parse(data) as { data: { seq: number } }).data.seq]);
  return order;
}

describe('KinesisAppender: per-subject order across partial failures', () => {
  it('with 30% of entries throttled, every subject is stored in order, once, and each event gets the position it was stored at', async () => {
    const kinesis = throttlingKinesis(0.3);
    const events = Array.from({ length: 2_000 }, (_, i) => step(`subject-${i % 37}`, Math.floor(i / 37)));
    // Several concurrent calls: merged into runs, each keeping call order per subject.
    const shared = appender(kinesis.client);
    const calls = [events.slice(0, 700), events.slice(700, 1_400), events.slice(1_400)];
    const results = await Promise.all(calls.map((batch) => shared.append(batch)));
    expect(kinesis.stored).toHaveLength(2_000);
    for (const [subject, seqs] of storedOrder(kinesis.stored)) expect(seqs, subject).toEqual(seqs.map((_, i) => i));
    const bySequence = new Map(kinesis.stored.map((s) => [s.sequenceNumber, JSON.parse(s.data) as Envelope]));
    for (const [i, event] of calls.flat().entries()) expect(bySequence.get((results.flat()[i] as Position).offset)?.id).toBe(event.id);
  });

  it('never has two records of one subject in one PutRecords call', async () => {
    const seen: string[][] = [];
    const kinesis = throttlingKinesis(0.2);
    const spy = {
      send: (command: PutRecordsCommand) => {
        seen.push((command.input.Records ?? []).map((r) => r.PartitionKey as string));
        return kinesis.client.send(command as never);
      },
    } as unknown as KinesisClient;
    await appender(spy).append(Array.from({ length: 300 }, (_, i) => step(`s-${i % 5}`, i)));
    for (const keys of seen) expect(new Set(keys).size).toBe(keys.length);
  });

  it('with aggregate, a subject of one call goes in one Kinesis record: positions <seq>.<index> in order', async () => {
    const kinesis = throttlingKinesis(0);
    const positions = await appender(kinesis.client, { aggregate: true }).append(
      Array.from({ length: 30 }, (_, i) => step(`s-${i % 3}`, i)),
    );
    expect(kinesis.stored).toHaveLength(3);
    expect(kinesis.calls()).toBe(1);
    const ofFirst = positions.filter((_, i) => i % 3 === 0).map((p) => p.offset);
    expect(ofFirst).toEqual(ofFirst.map((_, i) => `${(ofFirst[0] as string).split('.')[0]}.${i}`));
  });

  it('a call that keeps being throttled past appendTimeoutMs rejects with KinesisAppendError: accepted events are stored, refused ones are not, none unknown', async () => {
    const kinesis = throttlingKinesis(0.6, 3);
    const events = Array.from({ length: 100 }, (_, i) => step(`s-${i % 4}`, i));
    const blocked = appender(kinesis.client, { appendTimeoutMs: 0 });
    const error = (await blocked.append(events).catch((e: unknown) => e)) as KinesisAppendError;
    expect(error).toBeInstanceOf(KinesisAppendError);
    expect(error.code).toBe('LOG_WRITE_FAILED');
    const storedIds = new Set(kinesis.stored.map((s) => (JSON.parse(s.data) as Envelope).id));
    const statuses = error.outcomes.map((outcome) => outcome.status);
    for (const [i, event] of events.entries()) expect(storedIds.has(event.id), `event ${i}`).toBe(statuses[i] === 'accepted');
    expect(statuses).toContain('refused');
    expect(statuses).not.toContain('unknown');
  });

  it('a call refused for good (AccessDenied) rejects at once, and no later record of that subject is sent', async () => {
    const denied = Object.assign(new Error('not allowed'), { name: 'AccessDeniedException', $fault: 'client' });
    const kinesis = throttlingKinesis(0, 1, (call) => (call === 2 ? denied : undefined));
    const events = Array.from({ length: 12 }, (_, i) => step('only', i));
    const error = (await appender(kinesis.client)
      .append(events)
      .catch((e: unknown) => e)) as KinesisAppendError;
    expect(error.message).toContain('AccessDeniedException');
    expect(storedOrder(kinesis.stored).get('only')).toEqual([0]);
    expect(error.outcomes.map((outcome) => outcome.status)).toEqual(['accepted', ...events.slice(1).map(() => 'refused')]);
  });
});

describe('KinesisAppender: concurrent calls of one subject', () => {
  it('a call queued behind a failed call of the same subject is not sent (it would land before the failed event, and the caller’s retry after it)', async () => {
    const stored: number[] = [];
    let refuseSeqZero = true;
    let sequence = 100;
    const client = {
      async send(command: PutRecordsCommand) {
        return {
          Records: (command.input.Records ?? []).map((record) => {
            const seq = (JSON.parse(Buffer.from(record.Data as Uint8Array).toString()) as { data: { seq: number } }).data.seq;
            if (seq === 0 && refuseSeqZero) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' };
            stored.push(seq);
            sequence++;
            return { ShardId: 'shardId-000000000000', SequenceNumber: String(sequence) };
          }),
        };
      },
    } as unknown as KinesisClient;
    const log = appender(client, { appendTimeoutMs: 30 });
    const first = log.append([step('S', 0)]).catch((e: unknown) => e);
    // Queued while the first call's run is under way: the next run.
    const second = log.append([step('S', 1), step('other', 7)]).catch((e: unknown) => e);
    const [firstError, secondOutcome] = await Promise.all([first, second]);
    expect(firstError).toBeInstanceOf(KinesisAppendError);
    expect(secondOutcome).toBeInstanceOf(KinesisAppendError);
    const secondError = secondOutcome as KinesisAppendError;
    expect(secondError.outcomes.map((outcome) => outcome.status)).toEqual(['refused', 'accepted']);
    expect(secondError.message).toContain('"S"');
    expect(stored).toEqual([7]);
    // The caller retries both in order once Kinesis takes records again: S keeps its order.
    refuseSeqZero = false;
    await log.append([step('S', 0)]);
    await log.append([step('S', 1)]);
    expect(stored).toEqual([7, 0, 1]);
  });
});

/** A fake Kinesis that stores every record it is sent, then answers as `answer` says for that call (1-based). */
function writingKinesis(answer: (call: number, entries: PutRecordsResultEntry[]) => unknown) {
  const stored: string[] = [];
  let calls = 0;
  let sequence = 500;
  const client = {
    async send(command: PutRecordsCommand) {
      calls++;
      const entries = (command.input.Records ?? []).map((record): PutRecordsResultEntry => {
        stored.push((JSON.parse(Buffer.from(record.Data as Uint8Array).toString()) as Envelope).id);
        sequence++;
        return { ShardId: 'shardId-000000000000', SequenceNumber: String(sequence) };
      });
      const failure = answer(calls, entries);
      if (failure) throw failure;
      return { Records: entries, $metadata: { attempts: 1 } };
    },
  } as unknown as KinesisClient;
  return { client, stored, calls: () => calls };
}

const statusesOf = (error: unknown) => (error as KinesisAppendError).outcomes.map((outcome) => outcome.status);

describe('KinesisAppendError: accepted, refused or unknown per event', () => {
  it('a call that fails on the network after Kinesis wrote it leaves its events unknown, not refused; the subject’s later events are refused (never sent)', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const kinesis = writingKinesis((call) => (call === 2 ? reset : undefined));
    const events = [step('a', 0), step('b', 0), step('a', 1), step('b', 1), step('a', 2)];
    const error = await appender(kinesis.client)
      .append(events)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KinesisAppendError);
    // Round 1 wrote a0 and b0; round 2 (a1, b1) was written, then its answer lost; a2 was never sent.
    expect(statusesOf(error)).toEqual(['accepted', 'accepted', 'unknown', 'unknown', 'refused']);
    expect(kinesis.stored).toEqual(events.slice(0, 4).map((e) => e.id));
    expect((error as Error).message).toContain('2 unknown');
  });

  it('a call answered 5xx until appendTimeoutMs leaves its events unknown (each attempt may have been written)', async () => {
    const internal = Object.assign(new Error('We encountered an internal error'), {
      name: 'InternalFailure',
      $fault: 'server',
      $metadata: { httpStatusCode: 500, attempts: 1 },
    });
    const kinesis = writingKinesis(() => internal);
    const events = [step('a', 0), step('a', 1)];
    const error = await appender(kinesis.client, { appendTimeoutMs: 20 })
      .append(events)
      .catch((e: unknown) => e);
    expect(statusesOf(error)).toEqual(['unknown', 'refused']);
    expect(kinesis.calls()).toBeGreaterThan(1);
    expect(new Set(kinesis.stored)).toEqual(new Set([events[0]?.id]));
  });

  it('an entry answered ProvisionedThroughputExceeded until appendTimeoutMs is refused, and is not in the stream', async () => {
    const kinesis = throttlingKinesis(1);
    const events = [step('a', 0), step('a', 1), step('b', 0)];
    const error = await appender(kinesis.client, { appendTimeoutMs: 20 })
      .append(events)
      .catch((e: unknown) => e);
    expect(statusesOf(error)).toEqual(['refused', 'refused', 'refused']);
    expect(kinesis.calls()).toBeGreaterThan(1);
    expect(kinesis.stored).toEqual([]);
  });

  it('a whole call refused with a 4xx is refused; after the SDK retried a call itself, an entry error is unknown (an earlier attempt may have been written)', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ProvisionedThroughputExceededException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, attempts: 1 },
    });
    let sdkRetried = false;
    const refusing = {
      async send() {
        if (!sdkRetried) throw throttled;
        return {
          Records: [{ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }],
          $metadata: { httpStatusCode: 200, attempts: 2 },
        };
      },
    } as unknown as KinesisClient;
    const log = appender(refusing, { appendTimeoutMs: 10 });
    expect(statusesOf(await log.append([step('a', 0)]).catch((e: unknown) => e))).toEqual(['refused']);
    sdkRetried = true;
    expect(statusesOf(await log.append([step('a', 1)]).catch((e: unknown) => e))).toEqual(['unknown']);
  });
});
