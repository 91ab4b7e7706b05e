import { type Envelope, EventTooLargeError, type Position, RiverlogError } from '@riverlog/core';
import { type DedupeWindow, envelopeText, invalidEnvelope } from '@riverlog/core/backend';
import type { ClientShape, KafkaClientLike, KafkaProducerLike, KafkaRecordMetadata, ProducerSettings } from './client.js';
import { partitionCache } from './partitioner.js';
import { BATCH_OVERHEAD, chargedBytes, recordBytes, toKafkaMessage } from './wire.js';

export interface AppenderOptions {
  readonly kafka: KafkaClientLike;
  readonly shape: ClientShape;
  readonly topic: string;
  readonly partitionCount: number;
  /** The topic's `max.message.bytes`: the largest record batch. */
  readonly maxMessageBytes: number;
  readonly maxEventBytes: number;
  readonly producer: ProducerSettings;
  readonly window: DedupeWindow;
}

interface Outgoing {
  readonly index: number;
  readonly event: Envelope;
  /** The envelope's JSON, made once: measured, then sent. */
  readonly text: string;
  readonly partition: number;
  readonly bytes: number;
}

/**
 * Writes appends with one idempotent producer, one append at a time, so that
 * per-subject order holds across calls and every call's positions are its own.
 */
export class KafkaAppender {
  private chain: Promise<unknown> = Promise.resolve();
  private producer: Promise<KafkaProducerLike> | undefined;
  private readonly partitionOf: (subject: string) => number;

  constructor(private readonly options: AppenderOptions) {
    this.partitionOf = partitionCache(options.partitionCount);
  }

  /** Refuses events that are not envelopes or are oversize at once (nothing sent); otherwise queues the append behind earlier ones. */
  append(events: readonly Envelope[]): Promise<Position[]> {
    const outgoing = events.map((event, index) => this.measure(event, index));
    const run = this.chain.then(() => this.write(outgoing));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Waits for appends under way, then disconnects the producer. */
  async close(): Promise<void> {
    await this.chain;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
  }

  private measure(event: Envelope, index: number): Outgoing {
    const { maxEventBytes } = this.options;
    const invalid = invalidEnvelope(event, index);
    if (invalid) throw invalid;
    const text = envelopeText(event);
    const size = Buffer.byteLength(text, 'utf8');
    const subjectSize = Buffer.byteLength(event.subject, 'utf8');
    const charged = chargedBytes(size, subjectSize);
    if (charged > maxEventBytes) throw new EventTooLargeError(event.type, event.id, charged, maxEventBytes);
    return { index, event, text, partition: this.partitionOf(event.subject), bytes: recordBytes(size, subjectSize) };
  }

  private async write(outgoing: readonly Outgoing[]): Promise<Position[]> {
    const { window } = this.options;
    const positions: Position[] = new Array(outgoing.length);
    const firstOfId = new Map<string, number>();
    const repeats: Outgoing[] = [];
    const fresh: Outgoing[] = [];
    for (const item of outgoing) {
      const known = window.get(item.event.id);
      if (known) positions[item.index] = known;
      else if (firstOfId.has(item.event.id)) repeats.push(item);
      else {
        firstOfId.set(item.event.id, item.index);
        fresh.push(item);
      }
    }
    let sent = 0;
    for (const chunk of this.chunks(fresh)) {
      try {
        await this.send(chunk, positions);
      } catch (error) {
        throw this.failure(outgoing.length, sent, error);
      }
      sent += chunk.length;
    }
    for (const item of repeats) positions[item.index] = positions[firstOfId.get(item.event.id) as number] as Position;
    return positions;
  }

  /** Splits into sends whose batch per partition stays within the topic's `max.message.bytes`. */
  private *chunks(items: readonly Outgoing[]): Generator<Outgoing[]> {
    const limit = this.options.maxMessageBytes;
    let chunk: Outgoing[] = [];
    let bytes = new Map<number, number>();
    for (const item of items) {
      const used = bytes.get(item.partition) ?? BATCH_OVERHEAD;
      if (chunk.length > 0 && used + item.bytes > limit) {
        yield chunk;
        chunk = [];
        bytes = new Map();
      }
      chunk.push(item);
      bytes.set(item.partition, (bytes.get(item.partition) ?? BATCH_OVERHEAD) + item.bytes);
    }
    if (chunk.length > 0) yield chunk;
  }

  private async send(chunk: readonly Outgoing[], positions: Position[]): Promise<void> {
    const { shape, topic, window } = this.options;
    const producer = await this.connectedProducer();
    let metadata: KafkaRecordMetadata[];
    try {
      metadata = await shape.send(
        producer,
        topic,
        chunk.map((item) => toKafkaMessage(item.event, item.text, item.partition)),
        this.options.producer,
      );
    } catch (error) {
      this.discardProducer();
      throw error;
    }
    // One record batch per partition, in the order given: its records got consecutive offsets from baseOffset.
    const next = new Map<number, number | bigint>();
    for (const entry of metadata) {
      if (entry.topicName === topic && entry.errorCode === 0 && entry.baseOffset !== undefined && entry.baseOffset !== null) {
        const base = Number(entry.baseOffset);
        // Offsets stay below 2^53 in practice; count in bigint beyond.
        next.set(entry.partition, Number.isSafeInteger(base + chunk.length) ? base : BigInt(entry.baseOffset));
      }
    }
    for (const item of chunk) {
      const offset = next.get(item.partition);
      if (offset === undefined || offset < 0) {
        this.discardProducer();
        throw new Error(`the broker's reply names no offset for partition ${item.partition}: ${JSON.stringify(metadata)}`);
      }
      next.set(item.partition, typeof offset === 'bigint' ? offset + 1n : offset + 1);
      const position = { partition: String(item.partition), offset: String(offset) };
      positions[item.index] = position;
      window.remember(item.event.id, position);
    }
  }

  private connectedProducer(): Promise<KafkaProducerLike> {
    if (!this.producer) {
      const producer = this.options.shape.producer(this.options.kafka, this.options.producer);
      this.producer = producer.connect().then(() => producer);
      this.producer.catch(() => this.discardProducer());
    }
    return this.producer;
  }

  /**
   * After a failed send the idempotent producer's sequence numbers may no
   * longer match what the broker stored; a new producer (new producer id)
   * makes sure a later batch is never mistaken for a duplicate of a lost one.
   */
  private discardProducer(): void {
    const producer = this.producer;
    this.producer = undefined;
    producer?.then(
      (p) => p.disconnect().catch(() => {}),
      () => {},
    );
  }

  private failure(total: number, acknowledged: number, cause: unknown): RiverlogError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const partly =
      acknowledged > 0
        ? ` The first ${acknowledged} were acknowledged before the failure; appending the same events again through this log returns their positions instead of writing them twice.`
        : '';
    return new RiverlogError(
      'LOG_WRITE_FAILED',
      `Kafka did not acknowledge an append of ${total} event(s) to topic ${JSON.stringify(this.options.topic)}: ${reason}. The call as a whole is not acknowledged; events of it may still have been written.${partly}`,
      { cause },
    );
  }
}
