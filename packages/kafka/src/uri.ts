import { RiverlogError } from '@riverlog/core';
import { type KafkaCompression, type KafkaLog, type KafkaLogOptions, kafkaLog } from './kafka-log.js';

/**
 * Parses `kafka://host:port[,host:port...]/topic[?partitions=3&replicationFactor=1&compression=gzip&create=false&clientId=x]`
 * into `kafkaLog` options. The topic is created when missing unless `create=false`.
 *
 * @example
 * kafkaOptionsFromUri('kafka://127.0.0.1:9092/retail-stream?partitions=3');
 * // { brokers: ['127.0.0.1:9092'], topic: 'retail-stream', createTopic: { partitions: 3 } }
 */
export function kafkaOptionsFromUri(uri: string): KafkaLogOptions {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme === undefined) throw invalid(uri, 'it is not a URI');
  if (scheme.toLowerCase() !== 'kafka') throw invalid(uri, `the scheme is ${JSON.stringify(`${scheme}:`)}, not "kafka:"`);
  // Parsed by hand: URL takes one host:port, not a list of brokers.
  const parts = /^kafka:\/\/([^/?#]*)\/?([^?#]*)(?:\?([^#]*))?$/i.exec(uri);
  const brokers = (parts?.[1] ?? '').split(',').filter((b) => b.length > 0);
  if (brokers.length === 0 || brokers.some((b) => !/^[^:]+:\d+$/.test(b))) throw invalid(uri, 'brokers must be host:port[,host:port...]');
  const topic = decodeURIComponent(parts?.[2] ?? '');
  if (topic.length === 0 || topic.includes('/')) throw invalid(uri, 'the path must be the topic name');
  const params = new URLSearchParams(parts?.[3] ?? '');
  const number = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === null) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < 1) throw invalid(uri, `${name} must be a whole number ≥ 1`);
    return Number(value);
  };
  const partitions = number('partitions');
  const replicationFactor = number('replicationFactor');
  const compression = params.get('compression') as KafkaCompression | null;
  const clientId = params.get('clientId');
  const create = params.get('create') !== 'false';
  return {
    brokers,
    topic,
    createTopic: create
      ? { ...(partitions === undefined ? {} : { partitions }), ...(replicationFactor === undefined ? {} : { replicationFactor }) }
      : false,
    ...(compression ? { compression } : {}),
    ...(clientId ? { clientId } : {}),
  };
}

/**
 * Opens a Kafka log from a URI (see `kafkaOptionsFromUri`); `overrides`
 * adds what a URI cannot say (a client, hooks).
 *
 * @example
 * const log = kafkaLogFromUri(process.env.RIVERLOG_LOG ?? 'kafka://127.0.0.1:9092/retail-stream');
 */
export function kafkaLogFromUri(uri: string, overrides: Partial<KafkaLogOptions> = {}): KafkaLog {
  return kafkaLog({ ...kafkaOptionsFromUri(uri), ...overrides });
}

function invalid(uri: string, reason: string): RiverlogError {
  return new RiverlogError('INVALID_OPTION', `Invalid Kafka log URI ${JSON.stringify(uri)}: ${reason}. Expected kafka://host:port/topic.`);
}
