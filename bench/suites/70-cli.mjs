// `riverlog replay` (the binary, as a user runs it) against `replay()` of
// @riverlog/view-builder in a Node script, in the same run: 1,000,000 events
// from a SQLite log into a counting handler. Both are child processes timed
// from spawn to exit (Node's start and module loading included on both sides).
// This file is also the script (started with `library-child`), the counting
// handler (`#count`, `finish`) and the catalog (`#catalog`) the binary is given.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCatalog, defineEvent, t } from '@riverlog/core';
import { sqliteLog } from '@riverlog/sqlite';
import { replay } from '@riverlog/view-builder';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 20_000 : 1_000_000;
const RUNS = QUICK ? 1 : 3;
/** Issue 12: the binary's replay at ≥ 0.8× the library's, same events, same run. */
const RATIO = 0.8;
const HERE = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL('../../packages/cli/bin/riverlog.js', import.meta.url));

export const title = 'The riverlog command';
export const about = `\`riverlog replay --handler\` over ${EVENTS.toLocaleString('en-US')} product/purchase events of a 4-partition SQLite log into a handler that counts them (decoded with the catalog, every partition in lineage order), run as the binary (\`bin/riverlog.js\`, non-TTY: plain progress lines on stderr, a JSON summary on stdout). Baseline: the same replay through the library API, \`replay({ log, catalog, into })\` of @riverlog/view-builder in a Node script. Both are child processes timed from spawn to exit, so Node's start and module loading count on both sides; events/s = events / wall time. Interleaved, median of ${RUNS}.`;

export const catalog = defineCatalog([defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } })]);

let counted = 0;
/** The counting handler both sides replay into. */
export function count() {
  counted++;
}
export const finish = () => ({ counted });

async function fillLog(path, total) {
  const log = sqliteLog({ path, partitions: 4, synchronous: 'normal' });
  const schema = catalog.dataschema('product/purchase');
  let chunk = [];
  for (let i = 0; i < total; i++) {
    const id = `product-${i % 5000}`;
    chunk.push({
      specversion: '1.0',
      id: `ev-${i}`,
      source: 'bench/cli',
      type: 'product/purchase',
      subject: id,
      time: '2026-11-22T00:00:00.000Z',
      dataschema: schema,
      data: { id, quantity: 1 + (i % 3) },
    });
    if (chunk.length === 10_000) {
      await log.append(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await log.append(chunk);
  await log.close();
}

/** In the child: the library's replay into the counter; prints what it counted. */
async function libraryChild(logPath) {
  const log = sqliteLog({ path: logPath });
  const result = await replay({ log, catalog, into: count });
  await log.close();
  process.stdout.write(`${JSON.stringify({ events: result.events, counted })}\n`);
}

/** Runs a child to its exit: wall seconds and its stdout. */
function timed(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      errors += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}: ${errors}`));
      else resolve({ seconds, output: JSON.parse(output) });
    });
  });
}

async function viaBinary(logPath) {
  const { seconds, output } = await timed([
    BIN,
    'replay',
    '--log',
    `sqlite:${logPath}`,
    '--catalog',
    `${HERE}#catalog`,
    '--handler',
    `${HERE}#count`,
    '--json',
  ]);
  if (output.events !== EVENTS || output.result?.counted !== EVENTS)
    throw new Error(`riverlog replay counted ${output.result?.counted} of ${output.events} events, expected ${EVENTS}`);
  return { rate: EVENTS / seconds, inside: output.seconds };
}

async function viaLibrary(logPath) {
  const { seconds, output } = await timed([HERE, 'library-child', logPath]);
  if (output.events !== EVENTS || output.counted !== EVENTS) throw new Error(`replay() counted ${output.counted}, expected ${EVENTS}`);
  return { rate: EVENTS / seconds };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-bench-cli-'));
  try {
    const logPath = join(dir, 'log.db');
    await fillLog(logPath, EVENTS);
    await viaLibrary(logPath); // warm-up: the file cache
    const binary = [];
    const library = [];
    for (let i = 0; i < RUNS; i++) {
      binary.push(await viaBinary(logPath));
      library.push(await viaLibrary(logPath));
    }
    const rates = (runs) => runs.map((r) => Math.round(r.rate).toLocaleString('en-US')).join(', ');
    return [
      {
        name: `riverlog replay --handler, ${EVENTS.toLocaleString('en-US')} events, SQLite log → counting handler (spawn to exit)`,
        unit: 'events/s',
        riverlog: median(binary.map((r) => r.rate)),
        baseline: median(library.map((r) => r.rate)),
        baselineName: 'replay() in a Node script',
        minRatio: RATIO,
        note: `runs: binary ${rates(binary)}; library ${rates(library)}; the command's own replay time ${median(binary.map((r) => r.inside)).toFixed(2)} s`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === HERE && process.argv[2] === 'library-child') await libraryChild(process.argv[3]);
