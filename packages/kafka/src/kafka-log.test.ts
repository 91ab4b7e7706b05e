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

describe('kafkaLog', () => {
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
  });
});
