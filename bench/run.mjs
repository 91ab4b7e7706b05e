// Runs every suite in bench/suites (or those named on the command line),
// prints one table and writes bench/RESULTS.md.
// A suite is an ES module exporting `title` and `run()`, which resolves with rows:
//   { name, unit, riverlog, baseline?, baselineName?, minRatio?, minAbsolute?, maxAbsolute?, note? }
// `riverlog` and `baseline` are measured in the same run, same machine.
// RIVERLOG_BENCH_QUICK=1 runs every suite once on small sizes, to check that
// it works (no numbers worth keeping): bench/RESULTS.md is not written.
import { readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const quick = process.env.RIVERLOG_BENCH_QUICK === '1';
const files = (await readdir(`${here}suites`)).filter((f) => f.endsWith('.mjs')).sort();
const sections = [];
let failures = 0;

const fmt = (n) => (n === undefined ? '' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

for (const file of files) {
  if (only.length > 0 && !only.some((o) => file.includes(o))) continue;
  const suite = await import(`${here}suites/${file}`);
  process.stdout.write(`\n## ${suite.title}\n`);
  const rows = await suite.run();
  const lines = [];
  for (const row of rows) {
    const ratio = row.baseline ? row.riverlog / row.baseline : undefined;
    const checks = [];
    if (row.minRatio !== undefined) checks.push(ratio >= row.minRatio ? `≥ ${row.minRatio}× ✅` : `≥ ${row.minRatio}× ❌`);
    if (row.minAbsolute !== undefined)
      checks.push(row.riverlog >= row.minAbsolute ? `≥ ${fmt(row.minAbsolute)} ✅` : `≥ ${fmt(row.minAbsolute)} ❌`);
    if (row.maxAbsolute !== undefined)
      checks.push(row.riverlog <= row.maxAbsolute ? `≤ ${fmt(row.maxAbsolute)} ✅` : `≤ ${fmt(row.maxAbsolute)} ❌`);
    if (checks.some((c) => c.includes('❌'))) failures++;
    const line = `| ${row.name} | ${fmt(row.riverlog)} ${row.unit} | ${row.baselineName ?? ''} | ${row.baseline === undefined ? '' : `${fmt(row.baseline)} ${row.unit}`} | ${ratio === undefined ? '' : `${ratio.toFixed(2)}×`} | ${checks.join(', ')} | ${row.note ?? ''} |`;
    lines.push(line);
    process.stdout.write(`${line}\n`);
  }
  sections.push({ title: suite.title, about: suite.about ?? '', lines });
}

const header = '| benchmark | riverlog | baseline | baseline value | ratio | target | note |\n|---|---|---|---|---|---|---|';
const body = sections.map((s) => `## ${s.title}\n\n${s.about ? `${s.about}\n\n` : ''}${header}\n${s.lines.join('\n')}\n`).join('\n');
const machine = `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}`;
if (quick) {
  console.log('\nquick run (RIVERLOG_BENCH_QUICK=1): small sizes, bench/RESULTS.md not written');
} else if (only.length === 0) {
  await writeFile(
    `${here}RESULTS.md`,
    `# Benchmark results\n\nWritten by \`npm run bench\`; riverlog and its baseline are measured in the same run. ${machine}. Shared machines are noisy: read the ratios.\n\n${body}`,
  );
  console.log(`\nwrote bench/RESULTS.md${failures ? ` — ${failures} target(s) missed` : ''}`);
}
