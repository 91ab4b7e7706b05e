import { ClosedError, type PositionMap, RiverlogError } from '@riverlog/core';
import type { ClientShape, KafkaAdminLike, KafkaClientLike, KafkaConsumerLike, TopicMetadata } from './client.js';

/** What the reader, the group subscriptions and the checkpoint store share with the log. */
export class KafkaLogContext {
  private closed = false;
  private readonly consumers = new Set<KafkaConsumerLike>();
  private readonly closing = new Set<() => void>();
  private readonly committers = new Map<string, (positions: PositionMap) => Promise<void>>();

  constructor(
    readonly kafka: KafkaClientLike,
    readonly shape: ClientShape,
    readonly admin: KafkaAdminLike,
    readonly topic: string,
    readonly uri: string,
    readonly readGroupPrefix: string,
    /** Extra config for consumers (e.g. `sessionTimeout`). */
    readonly consumerConfig: Readonly<Record<string, unknown>>,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  ensureOpen(): void {
    if (this.closed) throw new ClosedError(`Kafka log ${this.uri}`);
  }

  /** The topic's partition ids, in order. */
  async partitionIds(): Promise<number[]> {
    const { topics } = (await this.admin.fetchTopicMetadata({ topics: [this.topic] })) as { topics: TopicMetadata[] };
    const found = topics.find((t) => t.name === this.topic);
    if (!found || found.partitions.length === 0) {
      throw new RiverlogError('TOPIC_NOT_FOUND', `Kafka topic ${JSON.stringify(this.topic)} does not exist at ${this.uri}.`);
    }
    return found.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
  }

  /** Tracks a consumer so that `close()` disconnects it; `onClose` ends whatever uses it. */
  track(consumer: KafkaConsumerLike, onClose: () => void): () => void {
    this.consumers.add(consumer);
    this.closing.add(onClose);
    return () => {
      this.consumers.delete(consumer);
      this.closing.delete(onClose);
    };
  }

  /** While this log has a live member of `group`, how to commit through it. */
  memberCommitter(group: string): ((positions: PositionMap) => Promise<void>) | undefined {
    return this.committers.get(group);
  }

  registerMember(group: string, commit: (positions: PositionMap) => Promise<void>): () => void {
    this.committers.set(group, commit);
    return () => {
      if (this.committers.get(group) === commit) this.committers.delete(group);
    };
  }

  /** Ends reads and subscriptions, then waits for their consumers to disconnect. */
  async close(): Promise<void> {
    this.closed = true;
    for (const onClose of [...this.closing]) onClose();
    await Promise.all([...this.consumers].map((consumer) => consumer.disconnect().catch(() => {})));
  }
}
