/**
 * Kafka's default partitioner for keyed records, as the Java client and
 * kafkajs compute it: `toPositive(murmur2(utf8(key))) % partitions`. riverlog
 * picks each record's partition itself so that it knows where every event
 * went, and a subject lands where any other Kafka producer would put that key.
 *
 * @example
 * kafkaPartitionForKey('product-42', 3); // 0, 1 or 2, the same as a Java producer's
 */
export function kafkaPartitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/**
 * `kafkaPartitionForKey` with the partition of recently seen keys kept:
 * subjects repeat (an entity has many events), hashing them each time is waste.
 */
export function partitionCache(partitions: number, capacity = 10_000): (key: string) => number {
  const known = new Map<string, number>();
  return (key) => {
    let partition = known.get(key);
    if (partition === undefined) {
      partition = kafkaPartitionForKey(key, partitions);
      if (known.size >= capacity) known.clear();
      known.set(key, partition);
    }
    return partition;
  };
}

/** Murmur2 (32-bit, seed 0x9747b28c) as in `org.apache.kafka.common.utils.Utils.murmur2`. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2 mixes the tail bytes by falling through
    case 3:
      h ^= (data[whole + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: as above
    case 2:
      h ^= (data[whole + 1] as number) << 8;
    case 1:
      h ^= data[whole] as number;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
