import type { EventLog, Lag, PositionMap } from '@riverlog/core';
import { PARTITION_END } from '@riverlog/core';

/** Where a partition stands: its first and last offsets and how many records it holds, where the log's unit says so. */
export interface PartitionHead {
  readonly first?: string;
  readonly head?: string;
  /** Records held (logs whose lag is in records); undefined otherwise. */
  readonly records?: number;
}

/** The first batch of one record of a partition from a start: how far behind the end that start is. */
async function firstStep(log: EventLog, partition: string, after: string | undefined): Promise<{ offset?: string; lag?: Lag }> {
  const from = after === undefined ? ('earliest' as const) : { after: { [partition]: after } };
  for await (const batch of log.read({ from, partitions: [partition], batchSize: 1 })) {
    const record = batch.records[0];
    if (record) return { offset: record.position.offset, lag: batch.lag };
    if (batch.caughtUp || batch.ended) return {};
  }
  return {};
}

const dense = (offset: string | undefined) => offset !== undefined && /^\d+$/.test(offset);

/**
 * Each partition's first and last offset and record count, from one record
 * read per partition (a read of one record says how far behind the end it
 * is). Offsets are numbers on SQLite and Kafka; elsewhere only `first`.
 */
export async function partitionHead(log: EventLog, partition: string): Promise<PartitionHead> {
  const { offset, lag } = await firstStep(log, partition, undefined);
  if (offset === undefined) return { records: 0 };
  if (lag && 'records' in lag) {
    const records = lag.records + 1;
    return dense(offset) ? { first: offset, head: String(BigInt(offset) + BigInt(lag.records)), records } : { first: offset, records };
  }
  return { first: offset };
}

/**
 * How far a reader whose checkpoint is `after` (the last offset it finished;
 * undefined: nothing yet) is behind the end of a partition, in the log's unit.
 */
export async function lagAfter(log: EventLog, partition: string, after: string | undefined, head?: PartitionHead): Promise<Lag> {
  if (after === PARTITION_END) return { records: 0 };
  if (head?.head !== undefined && dense(head.head) && (after === undefined || dense(after))) {
    const behind = after === undefined ? (head.records ?? 0) : Number(BigInt(head.head) - BigInt(after));
    return { records: Math.max(0, behind) };
  }
  if (after === undefined && head?.records !== undefined) return { records: head.records };
  const { offset, lag } = await firstStep(log, partition, after);
  if (offset === undefined) return { records: 0 };
  if (lag && 'records' in lag) return { records: lag.records + 1 };
  return lag ?? { records: 0 };
}

/** A lag as text: `12` records, or `3.2 s` behind. */
export function lagText(lag: Lag | undefined): string {
  if (lag === undefined) return '?';
  return 'records' in lag ? String(lag.records) : `${(lag.ms / 1000).toFixed(1)} s`;
}

/** The sum of lags in records (ms lags are taken as the largest). */
export function totalLag(lags: readonly Lag[]): Lag {
  if (lags.some((lag) => 'ms' in lag)) return { ms: Math.max(0, ...lags.map((lag) => ('ms' in lag ? lag.ms : 0))) };
  return { records: lags.reduce((sum, lag) => sum + ('records' in lag ? lag.records : 0), 0) };
}

export type { PositionMap };

/**
 * Every partition's head: through Kafka's admin API for a `kafka://` log
 * (a read there joins a consumer group, seconds each), else one record read per partition.
 */
export async function logHeads(log: EventLog, uri: string | undefined): Promise<Map<string, PartitionHead>> {
  const partitions = await log.partitions();
  if (uri !== undefined && /^kafka:/i.test(uri)) {
    const { kafkaOptionsFromUri } = await import('@riverlog/kafka');
    const { kafkaTopicState } = await import('./kafka-admin.js');
    const options = kafkaOptionsFromUri(uri);
    const state = await kafkaTopicState([options.brokers ?? []].flat() as string[], options.topic);
    return new Map(partitions.map((p) => [p.id, state.heads.get(p.id) ?? { records: 0 }]));
  }
  const heads = new Map<string, PartitionHead>();
  await Promise.all(partitions.map(async (p) => heads.set(p.id, await partitionHead(log, p.id))));
  return heads;
}

/** Records in all partitions, when every partition says (undefined otherwise). */
export function recordCount(heads: ReadonlyMap<string, PartitionHead>): number | undefined {
  let total = 0;
  for (const head of heads.values()) {
    if (head.records === undefined) return undefined;
    total += head.records;
  }
  return total;
}
