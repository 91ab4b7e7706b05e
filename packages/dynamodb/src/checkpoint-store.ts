import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { type CheckpointStore, type Fence, LeaseLostError, type PositionMap } from '@riverlog/core';
import { checkFence } from '@riverlog/core/backend';
import { type DynamoStateStoreOptions, isConditionFailed, numberOf, StateTable, stringOf } from './state-table.js';

/** The partition key of a group's checkpoints; the sort key is the partition id. */
export const checkpointKey = (group: string): string => `checkpoint#${group}`;

const NOT_NEWER = 'attribute_not_exists(#e) OR #e <= :e';

/**
 * Consumer-group checkpoints in a DynamoDB table (see `stateTableDefinition`):
 * one item per group and partition, `pk = checkpoint#<group>`, `sk = <partition>`,
 * holding the offset and the highest lease epoch it was saved or claimed under.
 *
 * A fenced save is conditional writes, no transaction: with one partition,
 * one `UpdateItem` (offset and epoch, if the stored epoch is not higher).
 * With several, first every fenced partition's epoch is raised (each if not
 * higher: a stale one refuses the save with `LEASE_LOST` before any offset is
 * written), then each offset is written under the same condition. A lease
 * lost between the two steps refuses that partition's offset only; the
 * partitions still held move, which is where they are.
 *
 * @example
 * import { dynamoCheckpointStore } from '@riverlog/dynamodb';
 *
 * const checkpoints = dynamoCheckpointStore({ client, table: 'riverlog.state' });
 * await checkpoints.save('emailer', {}, { '0': 3 });          // claim partition 0 under lease epoch 3
 * await checkpoints.save('emailer', { '0': '41' }, { '0': 3 });
 * await checkpoints.load('emailer'); // { '0': '41' }
 */
export function dynamoCheckpointStore(options: DynamoStateStoreOptions): CheckpointStore {
  const table = new StateTable('dynamoCheckpointStore', options);
  const where = (group: string) => `Checkpoint of group ${group} (DynamoDB table ${table.name})`;
  const key = (group: string, partition: string) => ({ pk: { S: checkpointKey(group) }, sk: { S: partition } });

  /** The LEASE_LOST error for a refused write: the stored epoch read back for the message. */
  async function lost(group: string, partition: string, epoch: number): Promise<LeaseLostError> {
    const out = await table.send(new GetItemCommand({ TableName: table.name, Key: key(group, partition), ConsistentRead: true }));
    return new LeaseLostError(where(group), partition, epoch, numberOf(out.Item, 'epoch') ?? epoch + 1);
  }

  /** One conditional write: SET the offset and/or the epoch; a refused condition is LEASE_LOST. */
  async function write(group: string, partition: string, offset: string | undefined, epoch: number | undefined): Promise<void> {
    const sets: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, { S: string } | { N: string }> = {};
    if (offset !== undefined) {
      sets.push('#o = :o');
      names['#o'] = 'offset';
      values[':o'] = { S: offset };
    }
    if (epoch !== undefined) {
      sets.push('#e = :e');
      names['#e'] = 'epoch';
      values[':e'] = { N: String(epoch) };
    }
    try {
      await table.send(
        new UpdateItemCommand({
          TableName: table.name,
          Key: key(group, partition),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: epoch === undefined ? undefined : NOT_NEWER,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (epoch !== undefined && isConditionFailed(error)) throw await lost(group, partition, epoch);
      throw error;
    }
  }

  /** Runs the writes at once; the first refusal (in the order given) is the one thrown. */
  async function all(writes: readonly (() => Promise<void>)[]): Promise<void> {
    const results = await Promise.allSettled(writes.map((w) => w()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  return {
    async load(group) {
      const items = await table.queryAll(checkpointKey(group));
      const positions: Record<string, string> = {};
      for (const item of items) {
        const offset = stringOf(item, 'offset');
        const partition = stringOf(item, 'sk');
        if (offset !== undefined && partition !== undefined) positions[partition] = offset;
      }
      return positions;
    },
    async save(group: string, positions: PositionMap, fence?: Fence) {
      checkFence(where(group), fence, () => undefined);
      const fenced = Object.keys(fence ?? {});
      const touched = new Set([...fenced, ...Object.keys(positions)]);
      const epochOf = (partition: string) => fence?.[partition];
      if (fenced.length > 0 && touched.size > 1) {
        await all(fenced.map((partition) => () => write(group, partition, undefined, epochOf(partition))));
        await all(
          Object.entries(positions).map(
            ([partition, offset]) =>
              () =>
                write(group, partition, String(offset), epochOf(partition)),
          ),
        );
        return;
      }
      await all([...touched].map((partition) => () => write(group, partition, positions[partition], epochOf(partition))));
    },
    async close() {
      table.close();
    },
  };
}
