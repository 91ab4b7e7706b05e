// `riverlog lambda --shape msk` over a Kinesis log (kinesalite): each shard is a topic-partition numbered by
// its index in the log's partitions (a shard id is not a number: Number() of it made partition NaN).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent } from '@riverlog/core';
import type { KinesisLog } from '@riverlog/kinesis';
import { afterAll, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesalite, streamLog, uniqueStream } from '../kinesis/log-support.js';
import { catalog } from './fixtures/catalog-v2.mjs';
import { FIXTURES, riverlog, tempDir } from './support.js';

const tmp = tempDir();
let stream: string | undefined;
let log: KinesisLog | undefined;

afterAll(async () => {
  await log?.close();
  if (stream) await deleteStream(kinesalite, stream);
  tmp.remove();
});

describeOn(kinesalite, 'riverlog lambda on Kinesis')('riverlog lambda --shape msk on a Kinesis log', () => {
  it('numbers each shard by its index in the log’s partitions, one topic-partition per shard', async () => {
    stream = uniqueStream('cli-lambda-msk');
    log = streamLog(kinesalite, stream, 2);
    const subjects = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const positions = await log.append(subjects.map((s) => createEvent(catalog, 'product/purchase', s, { id: s }, { source: 'test' })));
    const shardOf = new Map(subjects.map((s, i) => [s, positions[i]?.partition as string]));
    const shards = (await log.partitions()).map((p) => p.id);
    const file = join(tmp.dir, 'partitions.jsonl');
    writeFileSync(file, '');
    const engine = kinesalite as { endpoint: string; region: string }; // describeOn runs this only when it is up
    const uri = `kinesis://${stream}?endpoint=${engine.endpoint}&region=${engine.region}&pollIntervalMs=50`;
    const ran = await riverlog(['lambda', join(FIXTURES, 'msk-partitions.mjs'), '--shape', 'msk', '--log', uri, '--source', 'retail'], {
      env: { PARTITIONS_FILE: file },
    });
    expect(ran.code, ran.stderr).toBe(0);
    const seen = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .flatMap((line) => JSON.parse(line) as { name: string; partitions: number[]; subjects: string[] }[]);
    expect(seen.flatMap((s) => s.subjects).sort()).toEqual(subjects);
    for (const { name, partitions, subjects: held } of seen) {
      const index = shards.indexOf(shardOf.get(held[0] as string) as string);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(partitions.every((p) => p === index)).toBe(true);
      expect(name).toBe(`retail-${index}`);
      expect(held.every((s) => shardOf.get(s) === shards[index])).toBe(true);
    }
  }, 60_000);
});
