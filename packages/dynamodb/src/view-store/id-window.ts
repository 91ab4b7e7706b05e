import { type DynamoDBClient, PutItemCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/client-dynamodb';
import type { BackoffPolicy } from '@riverlog/core';
import { idConflict, idPruneEvery } from '@riverlog/core/backend';
import { batchWriteAll, sendRetrying } from '../client.js';
import type { Item } from './row-items.js';
import { ATTR, IDS_PK } from './schema.js';

/** Largest JSON of ids in one chunk item (DynamoDB takes 400 KB per item), counted at 3 bytes per character. */
const CHUNK_CHARS = 300_000 / 3;

interface Chunk {
  readonly seq: number;
  readonly count: number;
  /** Undefined once the chunk is older than the window (kept only to be deleted). */
  ids: Set<string> | undefined;
}

const isConditionFailed = (error: unknown) => (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/**
 * A view table's window of recent event ids, kept in DynamoDB as chunk
 * items (`pk` = `i`, `sk` = a sequence number: one per commit, split when
 * large), and cached here: chunks never change once written, so each is
 * read once per process (`refresh` queries only those after the newest it
 * knows). A chunk is written at the next sequence number with a condition
 * that none is there: a writer that loses reads the winner's chunk, checks
 * its ids against it, and tries the next number — so no two writers both
 * record one id. Chunks entirely older than the newest `window` ids are
 * deleted in bulk (`BatchWriteItem`: no guard needed), once per
 * `idPruneEvery(window)` ids.
 *
 * @example
 * const ids = new IdWindow(client, 'riverlog.view.products.v1', 'products@1', 100_000, gen, policy);
 * await ids.refresh();
 * ids.has('01J…');
 */
export class IdWindow {
  private chunks: Chunk[] = [];
  private last = 0;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly table: string,
    readonly window: number,
    /** The table's generation (a new one after a drop and a create): a cache of another generation is thrown away. */
    readonly generation: string,
    private readonly policy: BackoffPolicy | undefined,
  ) {}

  /** Reads the chunks written since the newest this cache knows. */
  async refresh(): Promise<void> {
    let start: Item | undefined;
    do {
      const page: QueryCommandOutput = await sendRetrying(
        this.client,
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk > :last',
          ExpressionAttributeNames: { '#pk': ATTR.pk, '#sk': ATTR.sk },
          ExpressionAttributeValues: { ':pk': { S: IDS_PK }, ':last': { N: String(this.last) } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
        { policy: this.policy },
      );
      for (const item of page.Items ?? []) this.add(item);
      start = page.LastEvaluatedKey;
    } while (start);
    this.age();
  }

  /** Whether the window holds `id`. */
  has(id: string): boolean {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const ids = (this.chunks[i] as Chunk).ids;
      if (ids === undefined) return false;
      if (ids.has(id)) return true;
    }
    return false;
  }

  /**
   * Records `ids` (checked already against the window), refusing with a
   * `ConflictError` one that another writer recorded meanwhile.
   */
  async remember(ids: readonly string[]): Promise<void> {
    for (const part of chunksOf(ids)) {
      for (;;) {
        const seq = this.last + 1;
        try {
          await sendRetrying(
            this.client,
            new PutItemCommand({
              TableName: this.tableName,
              Item: {
                [ATTR.pk]: { S: IDS_PK },
                [ATTR.sk]: { N: String(seq) },
                [ATTR.ids]: { S: JSON.stringify(part) },
                [ATTR.count]: { N: String(part.length) },
              },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': ATTR.pk },
            }),
            { policy: this.policy },
          );
          // A refresh running meanwhile may have read this chunk already.
          if (seq > this.last) {
            this.chunks.push({ seq, count: part.length, ids: new Set(part) });
            this.last = seq;
            this.age();
          }
          break;
        } catch (error) {
          if (!isConditionFailed(error)) throw error;
          // Another writer took this number (or our own write landed and its answer was lost): read what came, check again.
          // (A lookup running meanwhile may have read that chunk already: what counts is that it is known now.)
          await this.refresh();
          if (this.last < seq) throw error;
          const landed = this.chunks.find((chunk) => chunk.seq === seq);
          if (landed?.ids && landed.count === part.length && part.every((id) => landed.ids?.has(id))) break;
          const again = part.find((id) => this.has(id));
          if (again !== undefined) throw idConflict(this.table, again);
        }
      }
    }
  }

  /** Deletes chunks older than the window once they hold `idPruneEvery(window)` ids or more. */
  async prune(): Promise<void> {
    let old = 0;
    for (const chunk of this.chunks) {
      if (chunk.ids !== undefined) break;
      old += chunk.count;
    }
    if (old < idPruneEvery(this.window)) return;
    const gone: Chunk[] = [];
    for (const chunk of this.chunks) {
      if (chunk.ids !== undefined) break;
      gone.push(chunk);
    }
    await batchWriteAll(
      this.client,
      {
        [this.tableName]: gone.map((chunk) => ({
          DeleteRequest: { Key: { [ATTR.pk]: { S: IDS_PK }, [ATTR.sk]: { N: String(chunk.seq) } } },
        })),
      },
      { policy: this.policy },
    );
    // Forgotten only once deleted (a prune that failed is done again by the next), by identity: prunes may overlap.
    const deleted = new Set(gone);
    this.chunks = this.chunks.filter((chunk) => !deleted.has(chunk));
  }

  private add(item: Item): void {
    const seq = Number(item[ATTR.sk]?.N);
    if (!(seq > this.last)) return;
    const ids = JSON.parse(item[ATTR.ids]?.S ?? '[]') as string[];
    this.chunks.push({ seq, count: ids.length, ids: new Set(ids) });
    this.last = seq;
  }

  /** Drops the ids of chunks whose every id is older than the newest `window` (the chunk that straddles the edge stays whole). */
  private age(): void {
    let newer = 0;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i] as Chunk;
      if (newer >= this.window) {
        if (chunk.ids === undefined) break;
        chunk.ids = undefined;
      }
      newer += chunk.count;
    }
  }
}

/** Ids cut into parts whose JSON fits one item. */
function chunksOf(ids: readonly string[]): string[][] {
  const parts: string[][] = [];
  let part: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const size = id.length + 3;
    if (part.length > 0 && chars + size > CHUNK_CHARS) {
      parts.push(part);
      part = [];
      chars = 0;
    }
    part.push(id);
    chars += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
