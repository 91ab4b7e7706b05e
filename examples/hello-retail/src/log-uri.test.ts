import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLog } from './log-uri.js';

describe('openLog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hello-retail-uri-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a SQLite log at a path, with the partitions asked for', async () => {
    const path = join(dir, 'a.db');
    const log = openLog(`sqlite:${path}?partitions=3`);
    try {
      expect(log.uri).toContain(path);
      expect((await log.partitions()).map((p) => p.id)).toEqual(['0', '1', '2']);
    } finally {
      await log.close();
    }
  });

  it('accepts sqlite:///absolute/path', async () => {
    const path = join(dir, 'b.db');
    const log = openLog(`sqlite://${path}`);
    try {
      expect(log.uri).toContain(path);
    } finally {
      await log.close();
    }
  });

  it('opens a memory log', async () => {
    const log = openLog('memory:?partitions=2');
    expect((await log.partitions()).map((p) => p.id)).toEqual(['0', '1']);
    await log.close();
  });

  it('opens a Kinesis log from kinesis://<stream>?endpoint=…&shards=…, connecting on its first call', async () => {
    const log = openLog('kinesis://retail-stream?endpoint=http://127.0.0.1:1&region=eu-west-1&shards=4');
    expect(log.uri).toBe('kinesis://retail-stream');
    await log.close();
    expect(() => openLog('kinesis://retail-stream?shards=0')).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it.each([
    ['kafka-ish://broker:9092/retail', 'unknown scheme "kafka-ish"'],
    ['retail.db', 'unknown scheme ""'],
    ['sqlite:', 'sqlite: needs a file path'],
    ['memory:?partitions=0', 'partitions must be a whole number ≥ 1, got "0"'],
  ])('refuses %s at once with a message saying why and what works', (uri, reason) => {
    expect(() => openLog(uri)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(reason) }));
    expect(() => openLog(uri)).toThrow(/Use one of sqlite:<path>, memory:/);
  });
});
