// Lean Lambda bundles (docs/bundling.md): a Kinesis handler bundled with the esbuild recipe holds only
// ES module builds of io-ts and fp-ts, and runs in a fresh node process; and every package loads
// through Node's own ESM loader and through require() on the Node running the suite.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEvent } from '@riverlog/core';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from './fixtures/kinesis-handler.js';
// @ts-expect-error plain ES module shared with the bench, no declarations
import { bundleHandler, recipe } from './recipe.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, '.cache', 'bundle-test', String(process.pid));
const entry = join(here, 'fixtures', 'kinesis-handler.ts');
const invoke = join(here, 'fixtures', 'invoke.mjs');

interface Bundled {
  bytes: number;
  parts: { riverlog: number; fpTs: number; ioTs: number; other: number };
  byPackage: Record<string, number>;
  inputs: string[];
}

let record = 0;
function kinesisRecord(shard: string, data: string | object): KinesisStreamRecord {
  record += 1;
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return {
    eventID: `${shard}:4959000000000000000000000000000000000000000000000${String(record).padStart(3, '0')}`,
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda',
    awsRegion: 'eu-west-1',
    eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/retail',
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: typeof data === 'string' ? 'junk' : (data as { subject: string }).subject,
      sequenceNumber: `4959000000000000000000000000000000000000000000000${String(record).padStart(3, '0')}`,
      data: Buffer.from(text).toString('base64'),
      approximateArrivalTimestamp: 1_767_000_000 + record,
    },
  };
}

function run(bundle: string, event: KinesisStreamEvent) {
  const file = join(out, `event-${record}.json`);
  writeFileSync(file, JSON.stringify(event));
  return JSON.parse(execFileSync(process.execPath, [invoke, bundle, file], { encoding: 'utf8' }));
}

describe('a Kinesis handler bundled with the esbuild recipe', () => {
  let bundle: string;
  let commonJs: string;
  let bundled: Bundled;
  let plain: Bundled;

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    bundle = join(out, 'handler.mjs');
    bundled = await bundleHandler({ entry, outfile: bundle });
    // CDK's default output format.
    commonJs = join(out, 'handler.cjs');
    await bundleHandler({ entry, outfile: commonJs, format: 'cjs' });
    plain = await bundleHandler({ entry, outfile: join(out, 'plain.mjs'), withRecipe: false });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('holds only the ES module builds of io-ts and fp-ts, and fp-ts only in part', () => {
    const commonJs = bundled.inputs.filter((path) => /node_modules\/(fp-ts|io-ts)\/lib\//.test(path));
    expect(commonJs).toEqual([]);
    expect(bundled.inputs.some((path) => path.includes('node_modules/io-ts/es6/'))).toBe(true);
    // Only the parts of fp-ts io-ts calls, not its Either module's whole instance machinery.
    expect(bundled.parts.fpTs).toBeGreaterThan(0);
    expect(bundled.parts.fpTs).toBeLessThan(plain.parts.fpTs / 4);
    expect(bundled.bytes).toBeLessThan(plain.bytes);
    // Only the io-ts codecs used: `t` from '@riverlog/core/io-ts' (a namespace re-export, `t` of '@riverlog/core',
    // would put every io-ts export in the bundle, ~18 KB instead of ~9.5).
    expect(bundled.parts.ioTs).toBeLessThan(plain.parts.ioTs * 0.6);
  });

  it("holds none of the catalog's write half: a consumer only decodes", () => {
    const riverlog = bundled.inputs.filter((path) => path.includes('packages/core/dist/'));
    expect(riverlog.some((path) => path.endsWith('/catalog.js'))).toBe(true);
    const writeOnly = riverlog.filter((path) => /\/(create-event|finite-numbers|ulid)\.js$/.test(path));
    expect(writeOnly).toEqual([]);
  });

  it('without the recipe, esbuild picks the CommonJS builds (what the recipe is for)', () => {
    expect(plain.inputs.some((path) => path.includes('node_modules/fp-ts/lib/'))).toBe(true);
    expect(plain.inputs.some((path) => path.includes('node_modules/io-ts/lib/'))).toBe(true);
  });

  it.each([
    'esm',
    'cjs',
  ])('runs as %s in a fresh node process: three event types handled, a poison record dead-lettered, a failure reported', (format) => {
    const subject = 'product-1';
    const shop = { source: 'shop' };
    const created = createEvent(catalog, 'product/create', subject, { id: subject, brand: 'Acme', name: 'Lamp', category: 'home' }, shop);
    const imaged = createEvent(catalog, 'product/image', subject, { id: subject, image: 'https://img.example/1.jpg' }, shop);
    const bought = createEvent(catalog, 'product/purchase', subject, { id: subject, quantity: 2 }, shop);
    const unknownProduct = createEvent(catalog, 'product/purchase', 'product-9', { id: 'product-9', quantity: 1 }, shop);
    const poison = kinesisRecord('shardId-000000000000', '{not json');
    const failing = kinesisRecord('shardId-000000000001', unknownProduct);
    const event: KinesisStreamEvent = {
      Records: [
        kinesisRecord('shardId-000000000000', created),
        kinesisRecord('shardId-000000000000', imaged),
        poison,
        kinesisRecord('shardId-000000000000', bought),
        failing,
      ],
    };

    const result = run(format === 'esm' ? bundle : commonJs, event);

    expect(result.defaultHandler).toBe('function');
    expect(result.seen).toEqual(['created product-1 Lamp', 'imaged product-1 https://img.example/1.jpg', 'purchased product-1 x2']);
    expect(result.response).toEqual({ batchItemFailures: [{ itemIdentifier: failing.kinesis.sequenceNumber }] });
    expect(result.deadLetters).toHaveLength(1);
    const [sent] = result.deadLetters;
    expect(sent.command).toBe('PutRecordsCommand');
    expect(sent.stream).toBe('dead-letters');
    expect(sent.letter).toMatchObject({
      group: 'bundled-handler',
      code: 'DECODE_FAILED',
      record: { position: { partition: 'shardId-000000000000', offset: poison.kinesis.sequenceNumber }, raw: '{not json' },
    });
  });

  it('docs/bundling.md quotes the recipe the test bundles with', () => {
    const doc = readFileSync(join(root, 'docs', 'bundling.md'), 'utf8');
    expect(recipe).toEqual({ mainFields: ['module', 'main'] });
    expect(doc).toContain("mainFields: ['module', 'main']");
    expect(doc).toContain('MainFields: module,main');
  });
});

describe("riverlog's packages on this Node", () => {
  const entries = ['@riverlog/core', '@riverlog/core/backend', '@riverlog/core/io-ts', '@riverlog/consumer', '@riverlog/consumer/lambda'];
  for (const dir of readdirSync(join(root, 'packages'))) {
    if (['core', 'consumer', 'testing', 'cli'].includes(dir)) continue;
    entries.push(`@riverlog/${dir}`);
  }

  // One fresh process for all of them (a process each took ~2 s apiece on a busy machine).
  it('each loads with import and with require, to the same exports', () => {
    const script = `
      const { createRequire } = await import('node:module');
      const require = createRequire(${JSON.stringify(join(root, 'package.json'))});
      // Interop names Node adds for a CommonJS module (io-ts) re-exported by an ES module, and which
      // require() of that ES module does not list (Node 23+ returns its 'module.exports' as it is).
      const interop = new Set(['__esModule', 'module.exports', 'default']);
      const names = (exports) => Object.keys(exports).filter((name) => !interop.has(name)).sort().join();
      const result = {};
      for (const name of ${JSON.stringify(entries)}) {
        const esm = names(await import(name));
        const cjs = names(require(name));
        result[name] = esm.length > 0 && esm === cjs ? 'ok' : { esm, cjs };
      }
      console.log(JSON.stringify(result));`;
    const outText = execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(JSON.parse(outText)).toEqual(Object.fromEntries(entries.map((name) => [name, 'ok'])));
  });

  it('no package imports fp-ts at run time (docs/conventions.md)', () => {
    const offenders = builtFiles().filter((file) =>
      /\bfrom ['"]fp-ts|require\(['"]fp-ts|import\(['"]fp-ts/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});

function builtFiles(dir = join(root, 'packages')): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'src') files.push(...builtFiles(path));
    else if (entry.isFile() && path.endsWith('.js') && path.includes('/dist/')) files.push(path);
  }
  return files;
}
