// How riverlog reads the AWS SDK's errors: which are worth retrying.

/** The error's AWS name (`ProvisionedThroughputExceededException`, ...) or Node's code (`ECONNRESET`). */
export function errorName(error: unknown): string {
  const e = error as { name?: unknown; code?: unknown; Code?: unknown } | undefined;
  if (typeof e?.code === 'string' && e.code.startsWith('E')) return e.code;
  if (typeof e?.name === 'string' && e.name !== 'Error') return e.name;
  if (typeof e?.Code === 'string') return e.Code;
  return typeof e?.code === 'string' ? e.code : 'Error';
}

/** `name: message`, for riverlog's messages. */
export function describeError(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  const name = errorName(error);
  return typeof message === 'string' && message.length > 0 ? `${name}: ${message}` : name;
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'KMSThrottlingException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);

/** Kinesis said slow down: a shard's throughput, a KMS key's rate, or an API's call rate. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorName(error));
}

const SERVER = new Set(['InternalFailure', 'InternalFailureException', 'ServiceUnavailable', 'ServiceUnavailableException']);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError', 'RequestTimeout']);

/** Throttling or a failure on Kinesis's side (5xx): the same request may succeed later. */
export function isRetriableWrite(error: unknown): boolean {
  if (isThrottling(error)) return true;
  const fault = (error as { $fault?: unknown } | undefined)?.$fault;
  return SERVER.has(errorName(error)) || fault === 'server';
}

/** Raised before a request left this process: nothing was sent. */
const NOT_SENT = new Set(['CredentialsProviderError', 'TokenProviderError']);

/**
 * A write request refused as a whole with nothing written: Kinesis answered
 * it with a 4xx (throttling, AccessDenied, a missing stream...) on the SDK's
 * first attempt, or it failed before being sent. Not so for a network error,
 * an abort or a 5xx (the answer, not the write, may be what was lost), nor
 * for any error after the SDK retried the request itself (`$metadata.attempts`
 * > 1): an earlier attempt may have been written and its answer dropped.
 */
export function provesNotWritten(error: unknown): boolean {
  const e = error as { $fault?: unknown; $metadata?: { attempts?: number; httpStatusCode?: number } } | undefined;
  if ((e?.$metadata?.attempts ?? 1) > 1) return false;
  const status = e?.$metadata?.httpStatusCode;
  if (e?.$fault === 'client' || (status !== undefined && status >= 400 && status < 500 && status !== 408)) return true;
  return NOT_SENT.has(errorName(error));
}

/** What a reader retries for as long as it lasts: throttling, 5xx, and the network (an endpoint restarting). */
export function isRetriableRead(error: unknown): boolean {
  return isRetriableWrite(error) || NETWORK.has(errorName(error)) || /socket hang up|ECONNRESET|ECONNREFUSED/.test(describeError(error));
}

/** An iterator Kinesis no longer honours (older than 5 minutes): get a new one from the last position. */
export function isExpiredIterator(error: unknown): boolean {
  return errorName(error) === 'ExpiredIteratorException';
}
