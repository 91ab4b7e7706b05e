import { parseStructured, type StoredEnvelope, withBinaryData } from './kafka-wire.js';
import { decodeUtf8 } from './utf8.js';

/** An HTTP request or response as a CloudEvents binding sees it: headers (any case) and the body. */
export interface HttpWireMessage {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array | string | null | undefined;
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' || value === undefined ? value : value[value.length - 1];
}

/** An HTTP binary-mode attribute value: percent-encoded where it is not printable ASCII (CloudEvents HTTP binding 3.1.3.2). */
function attribute(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Rebuilds the envelope an HTTP message carries, in either CloudEvents HTTP
 * binding mode: **structured** (`content-type: application/cloudevents+json`,
 * the body is the envelope as JSON) or **binary** (each attribute a `ce-<name>`
 * header, `content-type` the data's media type, the body the data). The
 * result is what a log record holds: pass it to `decodeRecord`, or append
 * `event` to a log once the catalog has decoded it. Bytes must be valid
 * UTF-8; what cannot be an envelope comes back with `error` and `raw`.
 *
 * @example
 * const stored = envelopeFromHttp({ headers: request.headers, body: rawBody });
 * const decoded = decodeRecord(catalog, { position: { partition: 'http', offset: '0' }, ...stored });
 */
export function envelopeFromHttp(message: HttpWireMessage): StoredEnvelope {
  let body: string | undefined;
  try {
    body =
      message.body === null || message.body === undefined
        ? undefined
        : typeof message.body === 'string'
          ? message.body
          : decodeUtf8(message.body, 'HTTP body');
  } catch (error) {
    const raw = Buffer.from(message.body as Uint8Array).toString('utf8');
    return { event: undefined, raw, error: (error as Error).message };
  }
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(message.headers)) {
    const text = headerValue(value);
    if (text !== undefined) headers.set(name.toLowerCase(), text);
  }
  const contentType = headers.get('content-type');
  if (!headers.has('ce-specversion')) return parseStructured(body, 'HTTP body');
  const event: Record<string, unknown> = {};
  for (const [name, value] of headers) {
    if (name.startsWith('ce-') && name.length > 3) event[name.slice(3)] = attribute(value);
  }
  return withBinaryData(event, contentType, body);
}
