import { type EventLog, memoryLog, RiverlogError } from '@riverlog/core';
import { kafkaLogFromUri } from '@riverlog/kafka';
import { kinesisLogFromUri } from '@riverlog/kinesis';
import { sqliteLog } from '@riverlog/sqlite';

/** The log URI schemes `openLog` understands, for messages. */
export const LOG_SCHEMES = ['sqlite:<path>', 'memory:', 'kafka://<host:port>/<topic>', 'kinesis://<stream>'] as const;

/**
 * Opens the central log a URI names:
 *
 * - `sqlite:<path>` — the embedded SQLite log in that file (created if absent);
 * - `memory:` — an in-process log, gone when the process ends;
 * - `kafka://<host:port>[,<host:port>...]/<topic>` — a Kafka topic (created
 *   if absent, with the broker's default partitions unless `?partitions=<n>`);
 * - `kinesis://<stream name or ARN>[?endpoint=…&region=…&shards=<n>]` — a
 *   Kinesis stream (created if absent when `shards` is given; see
 *   `kinesisOptionsFromUri`).
 *
 * Both take `?partitions=<n>` for a new log (default 4). The same program
 * runs unchanged on each: only this URI changes. Like riverlog's own
 * factories it is synchronous: a Kafka log connects on its first call. A URI
 * it cannot read throws `INVALID_OPTION` saying why and what works.
 *
 * @example
 * const log = openLog(process.env.RIVERLOG_LOG ?? 'sqlite:retail.db');
 */
export function openLog(uri: string): EventLog {
  const colon = uri.indexOf(':');
  const scheme = colon < 0 ? '' : uri.slice(0, colon);
  const [rest = '', query = ''] = uri.slice(colon + 1).split('?', 2);
  const params = new URLSearchParams(query);
  const partitions = scheme === 'kinesis' ? undefined : partitionsParam(uri, params);
  switch (scheme) {
    case 'sqlite': {
      const path = decodeURIComponent(rest.replace(/^\/\/(?=\/)/, ''));
      if (path === '') throw invalid(uri, 'sqlite: needs a file path, e.g. sqlite:data/retail.db');
      return sqliteLog(partitions === undefined ? { path } : { path, partitions });
    }
    case 'memory':
      return memoryLog(partitions === undefined ? {} : { partitions });
    case 'kafka':
      return kafkaLogFromUri(uri);
    case 'kinesis':
      return kinesisLogFromUri(uri);
    default:
      throw invalid(uri, `unknown scheme ${JSON.stringify(scheme)}`);
  }
}

function partitionsParam(uri: string, params: URLSearchParams): number | undefined {
  const text = params.get('partitions');
  if (text === null) return undefined;
  const partitions = Number(text);
  if (!Number.isInteger(partitions) || partitions < 1)
    throw invalid(uri, `partitions must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return partitions;
}

function invalid(uri: string, reason: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `Cannot open log ${JSON.stringify(uri)}: ${reason}. Use one of ${LOG_SCHEMES.join(', ')}.`);
}
