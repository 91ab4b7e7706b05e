import { KinesisClient } from '@aws-sdk/client-kinesis';
import { RiverlogError } from '@riverlog/core';
import { type KinesisLog, type KinesisLogOptions, kinesisLog } from './kinesis-log.js';

const EXPECTED = 'Expected kinesis://<stream name or ARN>[?region=…&endpoint=…&shards=…&onDemand=true&aggregate=true&pollIntervalMs=…]';

/**
 * Parses `kinesis://<stream>[?region=eu-west-1&endpoint=http://127.0.0.1:4567&shards=4&onDemand=true&aggregate=true&pollIntervalMs=1000]`
 * into `kinesisLog` options. `<stream>` is a name or an ARN. With `shards`
 * or `onDemand=true` the stream is created when missing (development).
 * `pollIntervalMs` is the wait at a shard's tip before polling again (the
 * read budget, 5 GetRecords calls per second per shard, still applies).
 * Without `endpoint`, riverlog makes a client for `region` (or the SDK's
 * default region) with the SDK's default credentials.
 *
 * @example
 * kinesisOptionsFromUri('kinesis://retail-stream?endpoint=http://127.0.0.1:4567&shards=4');
 * // { stream: 'retail-stream', endpoint: 'http://127.0.0.1:4567', createStream: { shards: 4 } }
 */
export function kinesisOptionsFromUri(uri: string): KinesisLogOptions {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme === undefined) throw invalid(uri, 'it is not a URI');
  if (scheme.toLowerCase() !== 'kinesis') throw invalid(uri, `the scheme is ${JSON.stringify(`${scheme}:`)}, not "kinesis:"`);
  // Parsed by hand: an ARN is not a host.
  const parts = /^kinesis:\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(uri);
  const stream = decodeURIComponent(parts?.[1] ?? '');
  if (stream.length === 0) throw invalid(uri, 'it names no stream');
  const params = new URLSearchParams(parts?.[2] ?? '');
  for (const name of params.keys()) {
    if (!['region', 'endpoint', 'shards', 'onDemand', 'aggregate', 'pollIntervalMs'].includes(name))
      throw invalid(uri, `unknown parameter ${JSON.stringify(name)}`);
  }
  const shardsText = params.get('shards');
  if (shardsText !== null && !/^[1-9]\d*$/.test(shardsText)) throw invalid(uri, 'shards must be a whole number ≥ 1');
  const pollText = params.get('pollIntervalMs');
  if (pollText !== null && !/^(?:0|[1-9]\d*)$/.test(pollText))
    throw invalid(uri, `pollIntervalMs must be a whole number of milliseconds ≥ 0, got ${JSON.stringify(pollText)}`);
  const onDemand = params.get('onDemand') === 'true';
  const region = params.get('region') ?? undefined;
  const endpoint = params.get('endpoint') ?? undefined;
  return {
    stream,
    ...(endpoint === undefined ? { client: new KinesisClient(region === undefined ? {} : { region }) } : { endpoint }),
    ...(region !== undefined && endpoint !== undefined ? { region } : {}),
    ...(shardsText !== null ? { createStream: { shards: Number(shardsText) } } : onDemand ? { createStream: { onDemand: true } } : {}),
    ...(params.get('aggregate') === 'true' ? { aggregate: true } : {}),
    ...(pollText !== null ? { pollIntervalMs: Number(pollText) } : {}),
  };
}

/**
 * Opens a Kinesis log from a URI (see `kinesisOptionsFromUri`); `overrides`
 * adds what a URI cannot say (your own client, read limits).
 *
 * @example
 * const log = kinesisLogFromUri(process.env.RIVERLOG_LOG ?? 'kinesis://retail-stream?region=eu-west-1');
 */
export function kinesisLogFromUri(uri: string, overrides: Partial<KinesisLogOptions> = {}): KinesisLog {
  const options = kinesisOptionsFromUri(uri);
  if (overrides.client !== undefined) {
    const { endpoint: _endpoint, client: _client, ...rest } = options;
    return kinesisLog({ ...rest, ...overrides } as KinesisLogOptions);
  }
  return kinesisLog({ ...options, ...overrides });
}

function invalid(uri: string, reason: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `Invalid Kinesis log URI ${JSON.stringify(uri)}: ${reason}. ${EXPECTED}.`);
}
