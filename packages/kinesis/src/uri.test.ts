import { describe, expect, it } from 'vitest';
import { kinesisLogFromUri, kinesisOptionsFromUri } from './uri.js';

describe('kinesisOptionsFromUri', () => {
  it('reads the stream, endpoint, region, creation and aggregation', () => {
    expect(
      kinesisOptionsFromUri('kinesis://retail-stream?endpoint=http://127.0.0.1:4567&region=eu-west-1&shards=4&aggregate=true'),
    ).toEqual({
      stream: 'retail-stream',
      endpoint: 'http://127.0.0.1:4567',
      region: 'eu-west-1',
      createStream: { shards: 4 },
      aggregate: true,
    });
    expect(kinesisOptionsFromUri('kinesis://s?endpoint=http://localhost:1&onDemand=true').createStream).toEqual({ onDemand: true });
  });

  it('reads the wait at the tip (pollIntervalMs), leaving the read budget at its default', () => {
    const options = kinesisOptionsFromUri('kinesis://s?endpoint=http://127.0.0.1:4567&pollIntervalMs=50');
    expect(options).toEqual({ stream: 's', endpoint: 'http://127.0.0.1:4567', pollIntervalMs: 50 });
    expect(kinesisOptionsFromUri('kinesis://s?endpoint=http://127.0.0.1:4567&pollIntervalMs=0').pollIntervalMs).toBe(0);
  });

  it('takes an ARN as the stream, and makes a client for the region when there is no endpoint', () => {
    const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail-stream';
    const options = kinesisOptionsFromUri(`kinesis://${arn}?region=eu-west-1`);
    expect(options.stream).toBe(arn);
    expect(options.client).toBeDefined();
    expect(options.endpoint).toBeUndefined();
    const log = kinesisLogFromUri(`kinesis://${encodeURIComponent(arn)}?region=eu-west-1`);
    expect(log.uri).toBe(`kinesis://${arn}`);
    expect(log.stream).toBe('retail-stream');
  });

  it.each([
    ['kafka://x:1/t', 'not "kinesis:"'],
    ['kinesis://', 'names no stream'],
    ['kinesis://s?shards=0', 'shards must be a whole number'],
    ['kinesis://s?partitions=3', 'unknown parameter "partitions"'],
    ['kinesis://s?pollIntervalMs=fast', 'pollIntervalMs must be a whole number of milliseconds'],
    ['kinesis://s?pollIntervalMs=-1', 'pollIntervalMs must be a whole number of milliseconds'],
    ['retail', 'not a URI'],
  ])('refuses %s with INVALID_OPTION saying why', (uri, reason) => {
    expect(() => kinesisOptionsFromUri(uri)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(reason) }),
    );
  });

  it('refuses a stream that is neither a name nor an ARN, and unknown or bad options, at once', () => {
    expect(() => kinesisLogFromUri('kinesis://bad name?endpoint=http://127.0.0.1:1')).toThrow(/stream must be a stream name/);
    expect(() => kinesisLogFromUri('kinesis://s?endpoint=http://127.0.0.1:1', { pollIntervalMs: -1 })).toThrow(/pollIntervalMs/);
    expect(() => kinesisLogFromUri('kinesis://s?endpoint=http://127.0.0.1:1', { readLimits: { callsPerSecnd: 5 } as never })).toThrow(
      /did you mean "callsPerSecond"/,
    );
  });
});
