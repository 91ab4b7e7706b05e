// A Kinesis consumer Lambda (test/bundle/fixtures/kinesis-handler.ts: three event types, a dead-letter
// stream through @aws-sdk/client-kinesis) bundled with esbuild as SAM and CDK do (minified, @aws-sdk/*
// external), with the recipe of docs/bundling.md: its size by origin (esbuild's metafile), and its cold
// import against a bundle of the same @aws-sdk/client-kinesis use alone, in fresh processes, interleaved.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleHandler } from '../../test/bundle/recipe.mjs';

export const title = 'Lambda bundle';
export const about =
  'A Kinesis handler bundled with esbuild (minified, `@aws-sdk/*` external, `mainFields: [module, main]`, docs/bundling.md); ' +
  'baseline of the sizes: the same bundle with esbuild’s defaults. Cold import: `await import()` of the bundle in a fresh ' +
  'node process, median of the runs, each handler run next to one of a bundle of `@aws-sdk/client-kinesis` alone (same client and command).';

const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 15;
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, '.cache', 'bench-bundle');
const kb = (bytes) => bytes / 1024;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall and CPU milliseconds an `await import()` of the file takes in a fresh node process. */
function coldImport(file) {
  const script =
    `const t = performance.now(), c = process.cpuUsage(); await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    'const u = process.cpuUsage(c); console.log(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]));';
  const [wall, cpu] = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', stdio: 'pipe' }),
  );
  return { wall, cpu };
}

export async function run() {
  mkdirSync(out, { recursive: true });
  try {
    const entry = join(root, 'test', 'bundle', 'fixtures', 'kinesis-handler.ts');
    const sdkEntry = join(out, 'sdk-only.mjs');
    writeFileSync(
      sdkEntry,
      "import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';\n" +
        'export const client = new KinesisClient({});\nexport const command = PutRecordsCommand;\n',
    );
    const handler = await bundleHandler({ entry, outfile: join(out, 'handler.mjs') });
    const plain = await bundleHandler({ entry, outfile: join(out, 'handler-defaults.mjs'), withRecipe: false });
    const sdk = await bundleHandler({ entry: sdkEntry, outfile: join(out, 'sdk-bundle.mjs') });

    const handlerRuns = [];
    const sdkRuns = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first, so a drift in machine load falls on both alike.
      if (i % 2 === 0) {
        handlerRuns.push(coldImport(join(out, 'handler.mjs')));
        sdkRuns.push(coldImport(join(out, 'sdk-bundle.mjs')));
      } else {
        sdkRuns.push(coldImport(join(out, 'sdk-bundle.mjs')));
        handlerRuns.push(coldImport(join(out, 'handler.mjs')));
      }
    }
    const handlerMedian = median(handlerRuns.map((r) => r.wall));
    const sdkMedian = median(sdkRuns.map((r) => r.wall));
    // Each handler run against the SDK run next to it: on a shared machine far steadier than a difference of medians.
    const extraWall = median(handlerRuns.map((r, i) => r.wall - sdkRuns[i].wall));
    const extraCpu = median(handlerRuns.map((r, i) => r.cpu - sdkRuns[i].cpu));
    const { parts, byPackage } = handler;
    const perPackage = Object.entries(byPackage)
      .sort(([, a], [, b]) => b - a)
      .map(([name, bytes]) => `${name} ${kb(bytes).toFixed(1)} KB`)
      .join(', ');
    return [
      {
        name: 'handler bundle, minified',
        unit: 'KB',
        riverlog: kb(handler.bytes),
        baseline: kb(plain.bytes),
        baselineName: 'esbuild defaults',
        maxAbsolute: 40,
        note: `defaults: fp-ts ${kb(plain.parts.fpTs).toFixed(1)} KB, io-ts ${kb(plain.parts.ioTs).toFixed(1)} KB`,
      },
      { name: "riverlog's own code in it", unit: 'KB', riverlog: kb(parts.riverlog), maxAbsolute: 20, note: perPackage },
      {
        name: 'fp-ts + io-ts in it',
        unit: 'KB',
        riverlog: kb(parts.fpTs + parts.ioTs),
        note: `fp-ts ${kb(parts.fpTs).toFixed(1)} KB, io-ts ${kb(parts.ioTs).toFixed(1)} KB; the handler's own code ${kb(parts.other).toFixed(1)} KB`,
      },
      {
        name: `cold import, median of ${RUNS}`,
        unit: 'ms',
        riverlog: handlerMedian,
        baseline: sdkMedian,
        baselineName: `@aws-sdk/client-kinesis alone (${kb(sdk.bytes).toFixed(1)} KB)`,
      },
      {
        name: 'cold import, more than the SDK alone',
        unit: 'ms',
        riverlog: extraWall,
        maxAbsolute: 15,
        note: `median of the ${RUNS} pairs' differences; CPU time ${extraCpu.toFixed(1)} ms more; difference of the medians ${(handlerMedian - sdkMedian).toFixed(1)} ms`,
      },
    ];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
