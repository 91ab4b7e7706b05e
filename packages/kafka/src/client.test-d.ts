import type { CheckpointStore, EventLog, GroupSubscribable } from '@riverlog/core';
import type { Kafka } from 'kafkajs';
import { describe, expectTypeOf, it } from 'vitest';
import type { KafkaClientLike } from './client.js';
import { type KafkaLog, type KafkaLogOptions, kafkaCheckpoints, kafkaLog } from './kafka-log.js';

describe('types', () => {
  it("takes kafkajs's own Kafka client as it is", () => {
    expectTypeOf<Kafka>().toExtend<KafkaClientLike>();
    expectTypeOf<{ kafka: Kafka; topic: string }>().toExtend<KafkaLogOptions>();
  });

  it('is an EventLog that runs consumer groups, with a checkpoint store on them', () => {
    expectTypeOf(kafkaLog).returns.resolves.toEqualTypeOf<KafkaLog>();
    expectTypeOf<KafkaLog>().toExtend<EventLog & GroupSubscribable>();
    expectTypeOf(kafkaCheckpoints).returns.toEqualTypeOf<CheckpointStore>();
  });
});
