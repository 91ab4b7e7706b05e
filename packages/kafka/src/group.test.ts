import { until } from '@riverlog/testing';
import { describe, expect, it } from 'vitest';
import type { KafkaAdminLike, KafkaClientLike, KafkaConsumerLike } from './client.js';
import { kafkaLog } from './kafka-log.js';

type Listener = (event: unknown) => void;

/**
 * A client on topic `orders` (1 partition) whose group consumer acts as
 * kafkajs's does: `crash(error, restart)` disconnects it and emits CRASH; it
 * counts the joins (connect + run) so a test sees whether the member came back.
 */
function crashingClient(options: { joinsThatCrash?: number } = {}) {
  let joinsThatCrash = options.joinsThatCrash ?? 0;
  const listeners = new Map<string, Listener[]>();
  const events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', REBALANCING: 'consumer.rebalancing' };
  let running = false;
  let runs = 0;
  let connects = 0;
  const emit = (name: string, payload: unknown) => {
    for (const listener of listeners.get(name) ?? []) listener({ payload });
  };
  const consumer: KafkaConsumerLike = {
    connect: async () => {
      connects++;
    },
    disconnect: async () => {
      running = false;
    },
    subscribe: async () => {},
    run: async () => {
      if (running) return;
      running = true;
      runs++;
      if (runs > 1 && joinsThatCrash > 0) {
        // As kafkajs's run does when joining fails: it resolves, having disconnected and emitted CRASH.
        joinsThatCrash--;
        running = false;
        emit(events.CRASH, { error: new Error('Not authorized to access group: g'), groupId: 'g', restart: false });
        return;
      }
      emit(events.GROUP_JOIN, { memberAssignment: { orders: [0] } });
    },
    commitOffsets: async () => {},
    seek: () => {},
    pause: () => {},
    resume: () => {},
    on: (name, listener) => {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
    },
    events,
  };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    fetchTopicMetadata: async () => ({ topics: [{ name: 'orders', partitions: [{ partitionId: 0, leader: 1 }] }] }),
    fetchTopicOffsets: async () => [{ partition: 0, offset: '0', high: '0', low: '0' }],
    fetchOffsets: async () => [{ topic: 'orders', partitions: [{ partition: 0, offset: '-1' }] }],
  } as unknown as KafkaAdminLike;
  const refuse = () => {
    throw new Error('not used');
  };
  const kafka: KafkaClientLike = { admin: () => admin, producer: refuse, consumer: () => consumer };
  return {
    kafka,
    runs: () => runs,
    connects: () => connects,
    running: () => running,
    /** What kafkajs does on a crash: disconnects, then emits CRASH saying whether it restarts by itself. */
    crash: async (error: Error, restart: boolean) => {
      await consumer.disconnect();
      emit(events.CRASH, { error, groupId: 'g', restart });
    },
  };
}

describe('kafkaLog subscribe', () => {
  it('rejoins by itself, with backoff, when the Kafka consumer crashes without restarting, and says so to onError', async () => {
    const client = crashingClient();
    const log = kafkaLog({ kafka: client.kafka, topic: 'orders' });
    const errors: unknown[] = [];
    const assigned: string[][] = [];
    const revoked: string[][] = [];
    const subscription = await log.subscribe({
      group: 'g',
      onBatch: async () => {},
      onAssigned: (partitions) => assigned.push([...partitions]),
      onRevoked: (partitions) => revoked.push([...partitions]),
      onError: (error) => errors.push(error),
    });
    expect(client.runs()).toBe(1);
    expect(assigned).toEqual([['0']]);

    await client.crash(Object.assign(new Error('Not authorized to access group: g'), { retriable: false }), false);
    expect(errors[0]).toMatchObject({ code: 'LOG_READ_FAILED', message: expect.stringContaining('rejoins') });
    // The member left the group: its partitions are no longer its own until it rejoins.
    expect(revoked).toEqual([['0']]);
    await until(() => client.runs() === 2, 'the member to rejoin the group', 10_000);
    expect(client.running()).toBe(true);
    expect(client.connects()).toBe(2);
    expect(assigned).toEqual([['0'], ['0']]);

    // A crash kafkajs restarts itself is left to kafkajs.
    await client.crash(new Error('The coordinator is loading'), true);
    expect(errors[1]).toMatchObject({ code: 'LOG_READ_FAILED', message: expect.stringContaining('restarts') });
    await subscription.stop();
    expect(client.runs()).toBe(2);
    await log.close();
  });

  it('keeps rejoining, with backoff, while rejoining itself crashes', async () => {
    const client = crashingClient({ joinsThatCrash: 2 });
    const log = kafkaLog({ kafka: client.kafka, topic: 'orders' });
    const errors: unknown[] = [];
    const subscription = await log.subscribe({ group: 'g', onBatch: async () => {}, onError: (error) => errors.push(error) });
    await client.crash(new Error('Not authorized to access group: g'), false);
    await until(() => client.runs() === 4 && client.running(), 'the member back in the group after two failed rejoins', 10_000);
    expect(errors).toHaveLength(3);
    await subscription.stop();
    await log.close();
  });

  it('stop() while waiting to rejoin after a crash ends the wait: the member does not rejoin', async () => {
    const client = crashingClient();
    const log = kafkaLog({ kafka: client.kafka, topic: 'orders' });
    const subscription = await log.subscribe({ group: 'g', onBatch: async () => {}, onError: () => {} });
    await client.crash(new Error('boom'), false);
    // stop() waits for the rejoin under way to end: it would see the member rejoin had stop() not ended the wait.
    await subscription.stop();
    expect(client.runs()).toBe(1);
    await log.close();
    expect(client.running()).toBe(false);
  });
});
