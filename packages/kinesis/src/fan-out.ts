import {
  type ChildShard,
  DescribeStreamConsumerCommand,
  ListShardsCommand,
  type ListShardsCommandOutput,
  RegisterStreamConsumerCommand,
  type Shard,
  type StartingPosition,
  SubscribeToShardCommand,
  type SubscribeToShardEventStream,
} from '@aws-sdk/client-kinesis';
import { RiverlogError } from '@riverlog/core';
import { checkOptions, sleep } from '@riverlog/core/backend';
import { describeError, errorName, isRetriableRead } from './aws-errors.js';
import type { ShardPage, ShardPageSource, ShardReader, ShardReaderContext, ShardStart } from './shard-reader.js';

/** Enhanced fan-out: a registered stream consumer that Kinesis pushes records to. */
export interface FanOutOptions {
  /** The stream consumer's name, registered if absent (one per application: it has its own 2 MiB/s per shard). */
  readonly consumerName: string;
  /**
   * Kinesis ends a subscription after 5 minutes; one still open this long
   * after it started is ended here and renewed from where it got to.
   * Default 310,000 ms (a little over Kinesis's own 5 minutes).
   */
  readonly resubscribeMs?: number;
  /**
   * A subscription that brings no event for this long is taken for dead and
   * renewed (Kinesis sends one at least every few seconds). Default 30,000 ms.
   */
  readonly idleMs?: number;
}

const FAN_OUT_OPTIONS: readonly (keyof FanOutOptions)[] = ['consumerName', 'resubscribeMs', 'idleMs'];
const CONSUMER_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
/** How often a consumer that is being created is asked again whether it is ACTIVE. */
const CONSUMER_POLL_MS = 250;
/** How long one listing of the shards serves to tell whether a shard is closed. */
const SHARD_LIST_TTL_MS = 5_000;

interface AwsErrorShape {
  readonly name?: string;
  readonly message?: string;
}

/**
 * Failures a later subscription may not meet: what every reader retries
 * (throttling, 5xx, the network), another subscription of this consumer to
 * this shard still open (a renewal within Kinesis's 5 s), a stream cut mid-way.
 */
function isTransient(error: unknown): boolean {
  if (isRetriableRead(error) || errorName(error) === 'ResourceInUseException') return true;
  return /aborted|premature close/i.test((error as AwsErrorShape | undefined)?.message ?? '');
}

/** The consumer was deregistered meanwhile (not the stream or the shard gone): register it again. */
function isConsumerGone(error: unknown): boolean {
  return errorName(error) === 'ResourceNotFoundException' && /consumer/i.test((error as AwsErrorShape | undefined)?.message ?? '');
}

function startingPosition(start: ShardStart): StartingPosition {
  switch (start.type) {
    case 'AT_SEQUENCE_NUMBER':
    case 'AFTER_SEQUENCE_NUMBER':
      return { Type: start.type, SequenceNumber: start.sequenceNumber };
    case 'AT_TIMESTAMP':
      return { Type: 'AT_TIMESTAMP', Timestamp: start.timestamp };
    default:
      return { Type: start.type };
  }
}

function describePosition(position: StartingPosition): string {
  if (position.SequenceNumber !== undefined) return `${position.Type} ${position.SequenceNumber}`;
  if (position.Timestamp !== undefined) return `${position.Type} ${position.Timestamp.toISOString()}`;
  return String(position.Type);
}

/** The shards as one ListShards listing gave them, and when it was answered. */
interface ShardListing {
  readonly shards: readonly Shard[];
  readonly at: number;
}

/**
 * A shard reader that subscribes (enhanced fan-out) instead of polling:
 * records are pushed through `SubscribeToShard`, with the consumer's own
 * read throughput (2 MiB/s per shard) and no GetRecords budget shared with
 * other readers. The consumer is registered on first use (or found, if it
 * exists) and waited for until ACTIVE; it stays registered after `close()`
 * (deregister it yourself when the application is retired).
 *
 * Each source renews its subscription from the last continuation sequence
 * number when Kinesis ends it (every 5 minutes), when it breaks, or after
 * `resubscribeMs`. A shard's end is the event with `ChildShards` and no
 * continuation. Emulators that do not send that event (kinesis-local)
 * are covered too: when the subscription is at the tip of a shard that
 * `ListShards` lists as closed, a subscription started after that listing
 * that is still empty at the tip proves the end; the children then come from
 * the listing.
 *
 * `kinesisLog` uses it for its `fanOut` option; the pages it yields are
 * those of the polling reader (raw records, not deaggregated).
 *
 * @example
 * const log = kinesisLog({ client, stream: 'retail', fanOut: { consumerName: 'retail-emailer' } });
 */
export function fanOutShardReader(context: ShardReaderContext, options: FanOutOptions): ShardReader {
  checkOptions('fanOut', options, FAN_OUT_OPTIONS);
  if (typeof options.consumerName !== 'string' || !CONSUMER_NAME.test(options.consumerName)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `fanOut.consumerName must be 1 to 128 letters, digits, '_', '.' or '-', got ${JSON.stringify(options.consumerName)}.`,
    );
  }
  const resubscribeMs = options.resubscribeMs ?? 310_000;
  const idleMs = options.idleMs ?? 30_000;
  for (const [name, value] of [
    ['resubscribeMs', resubscribeMs],
    ['idleMs', idleMs],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new RiverlogError('INVALID_OPTION', `fanOut.${name} must be a number of milliseconds > 0, got ${String(value)}.`);
    }
  }
  const { client, streamArn, uri } = context;
  const consumerName = options.consumerName;
  const closing = new AbortController();
  const sources = new Set<FanOutSource>();
  let consumer: Promise<string> | undefined;
  let listing: Promise<ShardListing> | undefined;

  const readFailed = (what: string, error: unknown) =>
    new RiverlogError('LOG_READ_FAILED', `Enhanced fan-out on ${uri}: ${what} failed: ${describeError(error)}`, { cause: error });

  async function findOrRegister(signal: AbortSignal): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        const described = await client
          .send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }), { abortSignal: signal })
          .catch(async (error: unknown) => {
            if (errorName(error) !== 'ResourceNotFoundException') throw error;
            // A concurrent registration (another process) is a ResourceInUseException: describe it again.
            await client
              .send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }), { abortSignal: signal })
              .catch((again: unknown) => {
                if (errorName(again) !== 'ResourceInUseException') throw again;
              });
            return undefined;
          });
        const description = described?.ConsumerDescription;
        if (description?.ConsumerStatus === 'ACTIVE' && description.ConsumerARN) return description.ConsumerARN;
        // CREATING (or DELETING, then registered anew): ask again shortly.
        if (!(await sleep(CONSUMER_POLL_MS, signal)))
          throw new RiverlogError('LOG_READ_FAILED', `${uri}: closed while registering ${consumerName}.`);
      } catch (error) {
        if (signal.aborted) throw error;
        if (!isTransient(error)) throw readFailed(`registering stream consumer ${JSON.stringify(consumerName)}`, error);
        await sleep(context.retry.delay(attempt), signal);
      }
    }
  }

  function consumerArn(signal: AbortSignal): Promise<string> {
    if (!consumer) {
      consumer = findOrRegister(closing.signal);
      // A failed registration is tried again by the next caller.
      consumer.catch(() => {
        consumer = undefined;
      });
    }
    const pending = consumer;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new RiverlogError('LOG_READ_FAILED', `${uri}: read stopped while registering ${consumerName}.`));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async function listShards(signal: AbortSignal): Promise<ShardListing> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const page: ListShardsCommandOutput = await client.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamARN: streamArn }),
        { abortSignal: signal },
      );
      shards.push(...(page.Shards ?? []));
      token = page.NextToken;
    } while (token);
    return { shards, at: Date.now() };
  }

  /** A listing of the stream's shards at most SHARD_LIST_TTL_MS old, shared by every source. */
  async function recentListing(): Promise<ShardListing> {
    const current = listing && (await listing.catch(() => undefined));
    if (current && Date.now() - current.at < SHARD_LIST_TTL_MS) return current;
    if (!listing || current) {
      // Shared by every source: only closing the reader aborts it, not one source ending.
      listing = listShards(closing.signal);
      listing.catch(() => {
        listing = undefined;
      });
    }
    return listing;
  }

  class FanOutSource implements ShardPageSource {
    private position: StartingPosition;
    private events: AsyncIterator<SubscribeToShardEventStream> | undefined;
    private subscription: AbortController | undefined;
    private subscribedAt = 0;
    private failures = 0;
    private done = false;
    /** When a listing said the shard is closed (its answer time), with the children it named. */
    private closedSeen: { at: number; children: ChildShard[] } | undefined;

    constructor(
      private readonly shardId: string,
      start: ShardStart,
      private readonly signal: AbortSignal,
    ) {
      this.position = startingPosition(start);
      signal.addEventListener('abort', () => this.close(), { once: true });
    }

    async next(): Promise<ShardPage | undefined> {
      while (!this.done && !this.signal.aborted) {
        try {
          if (!this.events) await this.subscribe();
          else if (Date.now() - this.subscribedAt > resubscribeMs) {
            this.unsubscribe();
            continue;
          }
          const result = await this.nextEvent();
          if (result === undefined) continue;
          if (result.done) {
            // Kinesis ended the subscription (its 5 minutes): renew it from the continuation.
            this.unsubscribe();
            continue;
          }
          this.failures = 0;
          const page = await this.pageOf(result.value);
          if (page) return page;
        } catch (error) {
          this.unsubscribe();
          if (this.signal.aborted || this.done) break;
          if (isConsumerGone(error)) consumer = undefined;
          else if (!isTransient(error)) {
            this.close();
            if (error instanceof RiverlogError) throw error;
            throw readFailed(`reading shard ${this.shardId} from ${describePosition(this.position)}`, error);
          }
          this.failures++;
          await sleep(context.retry.delay(this.failures), this.signal);
        }
      }
      return undefined;
    }

    close(): void {
      if (this.done) return;
      this.done = true;
      this.unsubscribe();
      sources.delete(this);
    }

    private async subscribe(): Promise<void> {
      const arn = await consumerArn(this.signal);
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const subscribedAt = Date.now();
        const output = await client.send(
          new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: this.shardId, StartingPosition: this.position }),
          { abortSignal: controller.signal },
        );
        if (!output.EventStream) throw readFailed(`subscribing to shard ${this.shardId}`, new Error('no event stream in the answer'));
        this.subscription = controller;
        this.subscribedAt = subscribedAt;
        this.events = output.EventStream[Symbol.asyncIterator]();
      } catch (error) {
        controller.abort();
        throw error;
      } finally {
        this.signal.removeEventListener('abort', onAbort);
      }
    }

    /** The next event, or undefined when the subscription went idle (then renewed). */
    private async nextEvent(): Promise<IteratorResult<SubscribeToShardEventStream> | undefined> {
      const events = this.events as AsyncIterator<SubscribeToShardEventStream>;
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), idleMs);
      });
      try {
        const pending = events.next();
        // Once idle wins, the abandoned call rejects when its subscription is aborted: expected.
        pending.catch(() => {});
        const result = await Promise.race([pending, idle]);
        if (result === undefined) this.unsubscribe();
        return result;
      } finally {
        clearTimeout(timer);
      }
    }

    private unsubscribe(): void {
      this.subscription?.abort();
      this.subscription = undefined;
      const events = this.events;
      this.events = undefined;
      // Let the stream's own clean-up run; its rejection (aborted) is expected.
      events?.return?.().catch(() => {});
    }

    private async pageOf(event: SubscribeToShardEventStream): Promise<ShardPage | undefined> {
      const data = event.SubscribeToShardEvent;
      if (!data) {
        // An error member of the stream (the SDK usually throws these itself).
        const [name] = Object.keys(event).filter((key) => key !== '$unknown');
        const member = (event as unknown as Record<string, { message?: string } | undefined>)[name ?? ''];
        throw Object.assign(new Error(member?.message ?? `event ${name ?? 'unknown'}`), { name: name ?? 'UnknownEvent' });
      }
      const records = data.Records ?? [];
      let bytes = 0;
      for (const record of records) bytes += record.Data?.length ?? 0;
      const ms = data.MillisBehindLatest;
      if (!data.ContinuationSequenceNumber || (data.ChildShards?.length ?? 0) > 0) {
        this.close();
        return { records, millisBehindLatest: ms, atTip: true, ended: true, childShards: data.ChildShards ?? [], bytes };
      }
      this.position = { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: data.ContinuationSequenceNumber };
      if (records.length === 0 && ms === 0) {
        const ended = await this.endedWithoutChildShards();
        if (ended) {
          this.close();
          return { records, millisBehindLatest: ms, atTip: true, ended: true, childShards: ended, bytes };
        }
      }
      return { records, millisBehindLatest: ms, atTip: ms === 0, ended: false, bytes };
    }

    /**
     * For emulators that never send the last event: at the tip of a shard a
     * listing calls closed, the end is proven by a subscription that started
     * after that listing and is still empty at the tip (a subscription from
     * before it may have been at the tip before the last records came).
     */
    private async endedWithoutChildShards(): Promise<ChildShard[] | undefined> {
      if (this.closedSeen) {
        if (this.subscribedAt > this.closedSeen.at) return this.closedSeen.children;
        this.unsubscribe();
        return undefined;
      }
      const { shards, at } = await recentListing();
      const shard = shards.find((s) => s.ShardId === this.shardId);
      if (!shard) {
        // Kinesis answers ResourceNotFoundException; kinesis-local subscribes to anything and sends empty events.
        throw new RiverlogError('LOG_READ_FAILED', `Enhanced fan-out on ${uri}: shard ${this.shardId} is not in the stream (ListShards).`);
      }
      if (!shard.SequenceNumberRange?.EndingSequenceNumber) return undefined;
      const children: ChildShard[] = shards
        .filter((s) => s.ParentShardId === this.shardId || s.AdjacentParentShardId === this.shardId)
        .map((s) => ({
          ShardId: s.ShardId,
          ParentShards: [s.ParentShardId, s.AdjacentParentShardId].filter((id): id is string => id !== undefined),
          HashKeyRange: s.HashKeyRange,
        }));
      this.closedSeen = { at, children };
      if (this.subscribedAt > at) return children;
      this.unsubscribe();
      return undefined;
    }
  }

  return {
    open(shardId, start, signal) {
      const source = new FanOutSource(shardId, start, AbortSignal.any([signal, closing.signal]));
      sources.add(source);
      return source;
    },
    async close() {
      closing.abort();
      for (const source of [...sources]) source.close();
    },
  };
}
