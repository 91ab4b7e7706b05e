// The Hello Retail demo on Kinesis, as the README runs it: examples/hello-retail/dist/main.js with
// RIVERLOG_LOG=kinesis://… against this run's kinesalite, checked as examples/hello-retail/src/main.test.ts
// checks it on SQLite (the views printed, the rebuild equal, no dead letters), plus the stream itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { deleteStream, describeOn, kinesalite, streamLog, uniqueStream } from './log-support.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'hello-retail', 'dist', 'main.js');
const stream = uniqueStream('hello-retail');

/** The AWS SDK's notice on Node 20 (its next majors need Node 22), the one thing the demo may print on stderr. */
const SDK_NODE_NOTICE = /\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?\(Use `node --trace-warnings \.\.\.`[^\n]*\n?/g;

function run(env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

afterAll(() => deleteStream(kinesalite, stream));

describeOn(kinesalite, 'Hello Retail on Kinesis')('Hello Retail on Kinesis (dist/main.js, RIVERLOG_LOG=kinesis://…)', () => {
  it('plays the day on a new 4-shard stream, prints the views and a matching rebuild, and leaves the day on the stream', async () => {
    expect(existsSync(main), `${main} is missing: run \`npm run build\` first`).toBe(true);
    // The README's URI as it is. A shorter pollIntervalMs does not make the demo faster: its settle rounds
    // open new reads (readEnds) whose GetRecords calls keep each shard at Kinesis's 5 calls/s whatever the
    // followers' wait (~22 s in-process with 50 ms, 250 ms or the default 1 s).
    const uri = `kinesis://${stream}?endpoint=${kinesalite.endpoint}&shards=4`;
    const result = await run({ RIVERLOG_LOG: uri });
    expect(result.stderr.replace(SDK_NODE_NOTICE, '')).toBe('');
    expect(result.status).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`log:   kinesis://${stream}\n`);
    expect(out).toContain('↳ photo-assignment: Pia Park → p-boot');
    // On Kinesis a position is a shard id and a sequence number.
    expect(out).toMatch(
      /↺ sent twice: \w+ stored once \(partition (shardId-\d{12}), offset (\d{20,}); the second append returned offset \2\)/,
    );
    expect(out).toContain('✗ refused, nothing written: Invalid "product/image" event: data.image: expected http(s) URL, got "tent.jpg"');
    expect(out).toMatch(/Raj Rao\s+\+15550100102\s+1\s+1\s+p-tent/);
    expect(out).toContain('top creator:      Ann Archer (6 points)');
    expect(out).toContain('top photographer: Pia Park (5 points)');
    expect(out).toContain('Dead letters: 0');
    expect(out).toMatch(/11 rows, identical to contributions@1 ✓/);
    const held = /with the service's assignments the log holds (\d+)\./.exec(out)?.[1];
    expect(held).toBe('34');

    // The day is on the stream, spread over its shards.
    const log = streamLog(kinesalite, stream, 4, { createStream: false });
    try {
      const perShard = new Map<string, number>();
      for await (const batch of log.read()) {
        perShard.set(batch.partition, (perShard.get(batch.partition) ?? 0) + batch.records.length);
        for (const record of batch.records) expect(record.error, record.position.offset).toBeUndefined();
      }
      expect(perShard.size).toBe(4);
      expect([...perShard.values()].reduce((a, b) => a + b, 0)).toBe(34);
      expect([...perShard.values()].filter((count) => count > 0).length).toBeGreaterThan(1);
    } finally {
      await log.close();
    }
  });
});
