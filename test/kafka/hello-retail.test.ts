// The Hello Retail demo, unchanged, on a Kafka topic: RIVERLOG_LOG=kafka://...
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { brokers, deleteTopic, describeKafka, uniqueTopic } from './support.js';

const main = fileURLToPath(new URL('../../examples/hello-retail/dist/main.js', import.meta.url));
const topics: string[] = [];
afterEach(async () => {
  for (const topic of topics.splice(0)) await deleteTopic(topic);
});

function run(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describeKafka('the Hello Retail demo on Kafka', () => {
  it('plays the day, builds the views and rebuilds one identically, with RIVERLOG_LOG=kafka://<broker>/<topic>', async () => {
    const topic = uniqueTopic('hello-retail');
    topics.push(topic);
    const { code, output } = await run({ RIVERLOG_LOG: `kafka://${(brokers ?? []).join(',')}/${topic}?partitions=3` });
    expect(output).toContain(`log:   kafka://${(brokers ?? []).join(',')}/${topic}`);
    expect(output).toContain('Winners');
    expect(output).toContain('Dead letters: 0');
    expect(output).toMatch(/identical to contributions@1 ✓/);
    expect(code, output).toBe(0);
  });
});
