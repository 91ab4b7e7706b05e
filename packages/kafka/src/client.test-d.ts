import type { EventLog, GroupSubscribable } from '@riverlog/core';
import type { Kafka } from 'kafkajs';
import { describe, expectTypeOf, it } from 'vitest';
import type { KafkaClientLike } from './client.js';
import { type KafkaLog, type KafkaLogOptions, kafkaLog } from './kafka-log.js';

describe('types', () => {
  it("takes kafkajs's own Kafka client as it is", () => {
    expectTypeOf<Kafka>().toExtend<KafkaClientLike>();
    expectTypeOf<{ kafka: Kafka; topic: string }>().toExtend<KafkaLogOptions>();
  });

  it('is made synchronously: an EventLog that runs consumer groups', () => {
    expectTypeOf(kafkaLog).returns.toEqualTypeOf<KafkaLog>();
    expectTypeOf<KafkaLog>().toExtend<EventLog & GroupSubscribable>();
  });
});
