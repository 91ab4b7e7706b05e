import { describe, expect, it } from 'vitest';
import type { Envelope } from '../envelope.js';
import { memoryLog } from './memory-log.js';

const event = (i: number): Envelope => ({
  specversion: '1.0',
  id: `id-${i}`,
  type: 'test/event',
  source: 'test',
  subject: `subject-${i}`,
  time: '2026-01-01T00:00:00.000Z',
  dataschema: 'urn:test:event/v1',
  data: {},
});

describe('memoryLog read', () => {
  it('yields one batch per partition in turn, so a partition with a backlog does not hold the others back (as the SQLite log)', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(Array.from({ length: 40 }, (_, i) => event(i)));
    const order: string[] = [];
    for await (const batch of log.read({ batchSize: 2 })) if (batch.records.length > 0) order.push(batch.partition);
    expect(order.slice(0, 4)).toEqual(['0', '1', '0', '1']);
    expect(order.length).toBe(20);
  });
});
