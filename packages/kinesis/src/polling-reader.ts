import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { ulid } from '@riverlog/core';
import { type Cursor, cursorKey, type FetchContext, type PollSettings, shardPoller } from './shard-poller.js';
import type { ShardPage, ShardPageSource, ShardReader, ShardStart } from './shard-reader.js';

/**
 * What decides which logs share a shard's poller (and so its read budget):
 * the same stream at the same service endpoint, whichever client object
 * each log calls it through — one budget per real shard in the process.
 */
export async function pollerScope(client: KinesisClient, streamArn: string, streamName: string): Promise<string> {
  const endpoint = client.config.endpoint ? await client.config.endpoint() : undefined;
  const service = endpoint
    ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port ?? ''}${endpoint.path}`
    : `aws:${await client.config.region()}`;
  return `${service}|${streamArn || streamName}`;
}

/**
 * An endpoint on this machine (127.0.0.0/8, localhost, ::1): a local
 * emulator, whose quirks (see `AT_TIMESTAMP_PATIENCE_MS`) may be worked
 * around; never AWS.
 */
export async function isLoopbackEndpoint(client: KinesisClient): Promise<boolean> {
  const endpoint = client.config.endpoint ? await client.config.endpoint() : undefined;
  if (!endpoint) return false;
  const host = endpoint.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The GetRecords shard reader: each source stands at a cursor of its
 * shard's process-wide poller (see `ShardPoller`), moving to the next cursor
 * with each page of records.
 */
export function pollingShardReader(context: FetchContext & { readonly pollerScope: string }, settings: PollSettings): ShardReader {
  const sources = new Set<{ close(): void }>();
  return {
    open(shardId: string, start: ShardStart, signal: AbortSignal): ShardPageSource {
      const poller = shardPoller(context.pollerScope, shardId, settings);
      const openedAt = Date.now();
      let cursor: Cursor | undefined = poller.hold(cursorKey(start, ulid()), start);
      let seenAfter = openedAt - 1;
      // Until the first record at or after the time, older ones are dropped: a shard's poller may read an
      // AT_TIMESTAMP start from TRIM_HORIZON (see ShardPoller.renewIterator), and later pages come from cursors
      // other readers share, so this reader filters its own pages.
      let arrivedFrom = start.type === 'AT_TIMESTAMP' ? start.timestamp.getTime() : undefined;
      let passedFirst = false;
      const source = {
        async next(): Promise<ShardPage | undefined> {
          if (!cursor || signal.aborted) return undefined;
          const fetched = await poller.fetch(cursor, seenAfter, context, signal);
          if (!fetched || !cursor) return undefined;
          let page = fetched.page;
          // A page fetched before this source opened says nothing of the tip now.
          if (fetched.requestedAt < openedAt && page.atTip && !page.ended) page = { ...page, atTip: false };
          // A LATEST cursor renewed from a time may have fallen back the same way.
          if (!passedFirst) arrivedFrom ??= cursor.arrivedFrom;
          if (arrivedFrom !== undefined && page.records.length > 0) {
            const from = arrivedFrom;
            const first = page.records.findIndex((record) => (record.ApproximateArrivalTimestamp?.getTime() ?? from) >= from);
            if (first >= 0) {
              arrivedFrom = undefined;
              passedFirst = true;
            }
            page = { ...page, records: first >= 0 ? page.records.slice(first) : [] };
          } else if (page.records.length > 0) passedFirst = true;
          if (fetched.nextKey === undefined) {
            source.close();
          } else if (fetched.nextKey !== cursor.key) {
            const next = poller.hold(fetched.nextKey, {
              type: 'AFTER_SEQUENCE_NUMBER',
              sequenceNumber: fetched.nextKey.slice('after:'.length),
            });
            poller.release(cursor);
            cursor = next;
            seenAfter = openedAt - 1;
          } else {
            seenAfter = fetched.requestedAt;
          }
          return page;
        },
        close(): void {
          if (!cursor) return;
          poller.release(cursor);
          cursor = undefined;
          sources.delete(source);
        },
      };
      sources.add(source);
      signal.addEventListener('abort', () => source.close(), { once: true });
      return source;
    },
    async close(): Promise<void> {
      for (const source of [...sources]) source.close();
    },
  };
}
