import {
  type AttributeValue,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { Lease, LeaseStore } from '@riverlog/core';
import { type DynamoStateStoreOptions, isConditionFailed, numberOf, StateTable, stringOf } from './state-table.js';

/** The partition key of a group's leases; the sort key is the partition id. */
export const leaseKey = (group: string): string => `lease#${group}`;

// owner, epoch and counter through placeholders: DynamoDB reserves many plain words.
const NAMES = { '#owner': 'owner', '#epoch': 'epoch', '#counter': 'counter' };

function toLease(group: string, item: Record<string, AttributeValue> | undefined): Lease | undefined {
  const partition = stringOf(item, 'sk');
  const epoch = numberOf(item, 'epoch');
  const counter = numberOf(item, 'counter');
  if (partition === undefined || epoch === undefined || counter === undefined) return undefined;
  return { group, partition, owner: stringOf(item, 'owner'), epoch, counter };
}

const same = (a: Lease | undefined, b: Lease): boolean =>
  a !== undefined && a.owner === b.owner && a.epoch === b.epoch && a.counter === b.counter;

/**
 * Fenced partition leases in a DynamoDB table (see `stateTableDefinition`):
 * one item per group and partition, `pk = lease#<group>`, `sk = <partition>`,
 * holding `owner` (absent once released), `epoch` (the fencing token, + 1 per
 * take) and `counter` (+ 1 per write). Every write is one conditional
 * `PutItem`/`UpdateItem`/`DeleteItem`: a compare-and-set on the lease as
 * last seen. The store keeps no clock: a taker judges a lease expired when
 * its counter has not moved for the TTL on the taker's own clock.
 *
 * A take whose answer was lost (a 5xx after the write, retried) finds its
 * condition failed on the next attempt; the store then reads the lease back
 * and returns it if it is the one it wrote (owner ids are unique per process).
 *
 * @example
 * import { dynamoLeaseStore } from '@riverlog/dynamodb';
 *
 * const leases = dynamoLeaseStore({ client, table: 'riverlog.state' });
 * const mine = await leases.take('views', '0', 'worker-1', undefined); // epoch 1, or undefined if someone has it
 * const renewed = mine && (await leases.renew(mine));                  // counter 2, or undefined once lost
 */
export function dynamoLeaseStore(options: DynamoStateStoreOptions): LeaseStore {
  const table = new StateTable('dynamoLeaseStore', options);
  const key = (group: string, partition: string) => ({ pk: { S: leaseKey(group) }, sk: { S: partition } });

  async function read(group: string, partition: string): Promise<Lease | undefined> {
    const out = await table.send(new GetItemCommand({ TableName: table.name, Key: key(group, partition), ConsistentRead: true }));
    return toLease(group, out.Item);
  }

  /** Runs a conditional write: false when its condition failed. */
  async function conditional(command: object, note?: { retried: boolean }): Promise<boolean> {
    try {
      await table.send(command, note);
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  return {
    async list(group) {
      const items = await table.queryAll(leaseKey(group));
      return items.map((item) => toLease(group, item)).filter((lease): lease is Lease => lease !== undefined);
    },

    async take(group, partition, owner, seen) {
      const note = { retried: false };
      const next: Lease = { group, partition, owner, epoch: (seen?.epoch ?? 0) + 1, counter: (seen?.counter ?? 0) + 1 };
      const written =
        seen === undefined
          ? await conditional(
              new PutItemCommand({
                TableName: table.name,
                Item: { ...key(group, partition), owner: { S: owner }, epoch: { N: '1' }, counter: { N: '1' } },
                ConditionExpression: 'attribute_not_exists(pk)',
              }),
              note,
            )
          : await conditional(
              new UpdateItemCommand({
                TableName: table.name,
                Key: key(group, partition),
                UpdateExpression: 'SET #owner = :owner, #epoch = :nextEpoch, #counter = :nextCounter',
                ConditionExpression: '#epoch = :epoch AND #counter = :counter',
                ExpressionAttributeNames: NAMES,
                ExpressionAttributeValues: {
                  ':owner': { S: owner },
                  ':epoch': { N: String(seen.epoch) },
                  ':counter': { N: String(seen.counter) },
                  ':nextEpoch': { N: String(next.epoch) },
                  ':nextCounter': { N: String(next.counter) },
                },
              }),
              note,
            );
      if (written) return next;
      // Our own earlier attempt may have written it before its answer was lost.
      if (note.retried && same(await read(group, partition), next)) return next;
      return undefined;
    },

    async renew(lease) {
      if (lease.owner === undefined) return undefined;
      try {
        const out: UpdateItemCommandOutput = await table.send(
          new UpdateItemCommand({
            TableName: table.name,
            Key: key(lease.group, lease.partition),
            UpdateExpression: 'SET #counter = #counter + :one',
            ConditionExpression: '#epoch = :epoch AND #owner = :owner',
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: { ':one': { N: '1' }, ':epoch': { N: String(lease.epoch) }, ':owner': { S: lease.owner } },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toLease(lease.group, out.Attributes);
      } catch (error) {
        if (isConditionFailed(error)) return undefined;
        throw error;
      }
    },

    async release(lease) {
      if (lease.owner === undefined) return;
      await conditional(
        new UpdateItemCommand({
          TableName: table.name,
          Key: key(lease.group, lease.partition),
          UpdateExpression: 'SET #counter = #counter + :one REMOVE #owner',
          ConditionExpression: '#epoch = :epoch AND #owner = :owner',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':one': { N: '1' }, ':epoch': { N: String(lease.epoch) }, ':owner': { S: lease.owner } },
        }),
      );
    },

    async remove(lease) {
      await conditional(
        new DeleteItemCommand({
          TableName: table.name,
          Key: key(lease.group, lease.partition),
          ConditionExpression: '#epoch = :epoch AND #counter = :counter',
          ExpressionAttributeNames: { '#epoch': 'epoch', '#counter': 'counter' },
          ExpressionAttributeValues: { ':epoch': { N: String(lease.epoch) }, ':counter': { N: String(lease.counter) } },
        }),
      );
    },

    async close() {
      table.close();
    },
  };
}
