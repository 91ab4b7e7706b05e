import { describe, expect, it } from 'vitest';
import { kafkaOptionsFromUri } from './uri.js';

describe('kafkaOptionsFromUri', () => {
  it('reads brokers, topic and topic settings', () => {
    expect(kafkaOptionsFromUri('kafka://127.0.0.1:9092/retail-stream')).toEqual({
      brokers: ['127.0.0.1:9092'],
      topic: 'retail-stream',
      createTopic: {},
    });
    expect(kafkaOptionsFromUri('kafka://a:9092,b:9093/orders?partitions=6&replicationFactor=3&compression=gzip&clientId=shop')).toEqual({
      brokers: ['a:9092', 'b:9093'],
      topic: 'orders',
      createTopic: { partitions: 6, replicationFactor: 3 },
      compression: 'gzip',
      clientId: 'shop',
    });
    expect(kafkaOptionsFromUri('kafka://a:9092/orders?create=false').createTopic).toBe(false);
  });

  it('refuses what is not a Kafka log URI, saying why', () => {
    expect(() => kafkaOptionsFromUri('sqlite:/tmp/x.db')).toThrow(/scheme is "sqlite:"/);
    expect(() => kafkaOptionsFromUri('kafka://a/orders')).toThrow(/host:port/);
    expect(() => kafkaOptionsFromUri('kafka://a:9092/')).toThrow(/topic name/);
    expect(() => kafkaOptionsFromUri('kafka://a:9092/orders?partitions=0')).toThrow(/partitions must be a whole number/);
  });
});
