import { describe, expect, it } from 'vitest';
import type { KafkaAdminLike, KafkaClientLike } from './client.js';
import { kafkaLog } from './kafka-log.js';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES, maxEventBytesFor } from './wire.js';

/** A client whose admin cannot connect, counting the attempts. */
function unreachable(): { kafka: KafkaClientLike; attempts: () => number } {
  let attempts = 0;
  const admin = {
    connect: async () => {
      attempts++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    },
    disconnect: async () => {},
  } as unknown as KafkaAdminLike;
  const refuse = () => {
    throw new Error('not used');
  };
  return { kafka: { admin: () => admin, producer: refuse, consumer: refuse }, attempts: () => attempts };
}

/** A client whose topic `orders` (2 partitions) is listed only after `refusals` metadata requests were refused with `error`. */
function listedAfter(refusals: number, error: () => Error): { kafka: KafkaClientLike; requests: () => number } {
  let requests = 0;
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    fetchTopicMetadata: async () => {
      requests++;
      if (requests <= refusals) throw error();
      return { topics: [{ name: 'orders', partitions: [0, 1].map((partitionId) => ({ partitionId, leader: 1 })) }] };
    },
    fetchTopicOffsets: async () => [0, 1].map((partition) => ({ partition, offset: '0', high: '0', low: '0' })),
  } as unknown as KafkaAdminLike;
  const refuse = () => {
    throw new Error('not used');
  };
  return { kafka: { admin: () => admin, producer: refuse, consumer: refuse }, requests: () => requests };
}

/** An error as kafkajs makes it for a Kafka error code: its `type`, and `retriable` from the protocol's table. */
function kafkaError(type: string, retriable: boolean, message: string): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, retriable });
}

const unknownTopic = () => kafkaError('UNKNOWN_TOPIC_OR_PARTITION', true, 'This server does not host this topic-partition');

describe('kafkaLog', () => {
  it('opens once Kafka stops refusing with a retriable error (a topic just created, a broker restarting), retrying with backoff', async () => {
    const { kafka, requests } = listedAfter(3, unknownTopic);
    const log = kafkaLog({ kafka, topic: 'orders' });
    expect((await log.partitions()).map((p) => p.id)).toEqual(['0', '1']);
    expect(requests()).toBeGreaterThan(3);
    await log.close();
  });

  it('gives up after openTimeoutMs with LOG_OPEN_FAILED naming the missing topic; a non-retriable error fails at once', async () => {
    const missing = listedAfter(Number.POSITIVE_INFINITY, unknownTopic);
    const log = kafkaLog({ kafka: missing.kafka, topic: 'orders', openTimeoutMs: 300 });
    await expect(log.partitions()).rejects.toMatchObject({
      code: 'LOG_OPEN_FAILED',
      message: expect.stringContaining('topic "orders" does not exist (still unknown after 300 ms). Create it, or pass createTopic.'),
    });
    expect(missing.requests()).toBeGreaterThan(1);
    await log.close();

    const denied = listedAfter(Number.POSITIVE_INFINITY, () =>
      kafkaError('TOPIC_AUTHORIZATION_FAILED', false, 'Not authorized to access topics'),
    );
    const deniedLog = kafkaLog({ kafka: denied.kafka, topic: 'orders' });
    await expect(deniedLog.partitions()).rejects.toMatchObject({
      code: 'LOG_OPEN_FAILED',
      message: expect.stringContaining('Not authorized'),
    });
    expect(denied.requests()).toBe(1);
    await deniedLog.close();
  });

  it('close() ends an open that is still retrying', async () => {
    const { kafka } = listedAfter(Number.POSITIVE_INFINITY, unknownTopic);
    const log = kafkaLog({ kafka, topic: 'orders' });
    const listed = log.partitions();
    const closed = log.close();
    await expect(listed).rejects.toMatchObject({ code: 'LOG_OPEN_FAILED' });
    await closed;
  });

  it('returns at once without talking to Kafka; each call that cannot connect rejects with LOG_OPEN_FAILED, and the next one tries again', async () => {
    const { kafka, attempts } = unreachable();
    const log = kafkaLog({ kafka, topic: 'orders' });
    expect(attempts()).toBe(0);
    expect(log.uri).toBe('kafka://client/orders');
    expect(log.maxEventBytes).toBe(maxEventBytesFor(KAFKA_DEFAULT_MAX_MESSAGE_BYTES));
    await expect(log.partitions()).rejects.toMatchObject({ code: 'LOG_OPEN_FAILED', message: expect.stringContaining('ECONNREFUSED') });
    await expect(log.append([])).rejects.toMatchObject({ code: 'LOG_OPEN_FAILED' });
    await expect(log.read()[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'LOG_OPEN_FAILED' });
    await expect(log.subscribe({ group: 'g', onBatch: async () => {} })).rejects.toMatchObject({ code: 'LOG_OPEN_FAILED' });
    expect(attempts()).toBe(4);
    await log.close();
    await expect(log.partitions()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses bad options at once, naming the closest known option', () => {
    expect(() => kafkaLog({ brokers: 'a:9092', topic: 'orders', topc: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('"topic"') }),
    );
    expect(() => kafkaLog({ topic: 'orders' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => kafkaLog({ brokers: 'a:9092', topic: '' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => kafkaLog({ brokers: 'a:9092', topic: 'o', createTopic: { partitions: 0 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => kafkaLog({ brokers: 'a:9092', topic: 'o', openTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});
