import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkaPartitionForKey, murmur2 } from './partitioner.js';

// kafkajs's own (Long-based) port of the Java client's murmur2, to compare against.
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('kafkaPartitionForKey', () => {
  it("matches the Java client's murmur2 on Kafka's own test vectors", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('picks the partition kafkajs and the Java client pick for any key, including multi-byte UTF-8', () => {
    const keys = ['', 'a', 'product-42', 'user-ünïcødé', '注文-7', 'x'.repeat(257)];
    for (let i = 0; i < 2000; i++) keys.push(`subject-${i}-${(i * 7919).toString(36)}`);
    for (const key of keys) {
      for (const partitions of [1, 3, 7, 64]) {
        const expected = (kafkajsMurmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
        if (kafkaPartitionForKey(key, partitions) !== expected) expect.fail(`${JSON.stringify(key)} over ${partitions}`);
      }
    }
  });
});
