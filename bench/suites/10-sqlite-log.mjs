// The SQLite log against raw better-sqlite3 in the same run: append (A), read
// (B), and the peak RSS of reading 1,000,000 events, measured in a child
// process (this file, started with `read-child`) (C).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEvent, defineCatalog, defineEvent, readEnds, t } from '@riverlog/core';
import { sqliteLog } from '@riverlog/sqlite';
import Database from 'better-sqlite3';

export const title = 'SQLite log';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 3_000 : 300_000;
const BATCH = 1_000;
const BIG = QUICK ? 20_000 : 1_000_000;
const RUNS = QUICK ? 1 : 3;
const PARTITIONS = 4;
const HERE = fileURLToPath(import.meta.url);

export const about = `${EVENTS.toLocaleString('en-US')} envelopes of ~200 bytes (built beforehand, not timed), ${PARTITIONS} partitions, appended in batches of ${BATCH.toLocaleString('en-US')} (one \`log.append\` call = one transaction), synchronous FULL (the log's default: one fsync per commit). Raw baseline: the same envelopes \`JSON.stringify\`-ed and inserted into a plain table \`events (id INTEGER PRIMARY KEY, body TEXT)\` with better-sqlite3, one transaction per ${BATCH.toLocaleString('en-US')} rows, WAL, synchronous FULL — no id index, no partitions, no dedupe. Read: \`log.read()\` (default batchSize) of the whole log vs \`SELECT body FROM events ORDER BY id\` iterated + \`JSON.parse\` on the raw table. Fresh files for every run; riverlog and raw interleaved; median of ${RUNS}. Peak RSS: a child process reads a ${BIG.toLocaleString('en-US')}-event log to the end (riverlog: \`log.read()\`; raw: iterating \`SELECT envelope\` + \`JSON.parse\` over the same file's partition tables).`;

const catalog = defineCatalog([defineEvent('cart/add', { data: { sku: t.string, quantity: t.number } })]);
const envelope = (i) =>
  createEvent(catalog, 'cart/add', `cart-${i % 1000}`, { sku: `sku-${i % 997}`, quantity: (i % 5) + 1 }, { source: 'bench' });
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function logAppend(path, events) {
  const log = sqliteLog({ path, partitions: PARTITIONS });
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) await log.append(events.slice(i, i + BATCH));
  const seconds = (performance.now() - started) / 1000;
  // Not timed: where each partition ends (offsets are dense from 0), read back.
  const ends = await readEnds(
    log,
    (await log.partitions()).map((partition) => partition.id),
    {},
  );
  await log.close();
  const stored = Object.values(ends).reduce((sum, end) => sum + Number(end) + 1, 0);
  if (stored !== events.length) throw new Error(`log holds ${stored} of ${events.length}`);
  return events.length / seconds;
}

function rawAppend(path, events) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO events (body) VALUES (?)');
  const write = db.transaction((batch) => {
    for (const event of batch) insert.run(JSON.stringify(event));
  });
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) write(events.slice(i, i + BATCH));
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return events.length / seconds;
}

async function logRead(path) {
  const log = sqliteLog({ path });
  const started = performance.now();
  let count = 0;
  for await (const batch of log.read()) {
    for (const record of batch.records) if (record.event.type) count++;
  }
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  if (count !== EVENTS) throw new Error(`log.read saw ${count} of ${EVENTS}`);
  return EVENTS / seconds;
}

function rawRead(path) {
  const db = new Database(path, { readonly: true });
  const started = performance.now();
  let count = 0;
  for (const body of db.prepare('SELECT body FROM events ORDER BY id').pluck().iterate()) if (JSON.parse(body).type) count++;
  const seconds = (performance.now() - started) / 1000;
  db.close();
  if (count !== EVENTS) throw new Error(`raw read saw ${count} of ${EVENTS}`);
  return EVENTS / seconds;
}

async function fillBig(path) {
  const log = sqliteLog({ path, partitions: PARTITIONS, synchronous: 'normal' });
  for (let i = 0; i < BIG; i += 10_000) await log.append(Array.from({ length: 10_000 }, (_, k) => envelope(i + k)));
  await log.close();
}

/** In the child: reads the whole log and reports the count, time and peak RSS. */
async function readChild(mode, path) {
  const started = performance.now();
  let count = 0;
  if (mode === 'log') {
    const log = sqliteLog({ path });
    for await (const batch of log.read()) {
      for (const record of batch.records) if (record.event.type) count++;
    }
    await log.close();
  } else {
    const db = new Database(path, { readonly: true });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (const text of db.prepare(`SELECT envelope FROM riverlog_events_${partition} ORDER BY "offset"`).pluck().iterate()) {
        if (JSON.parse(text).type) count++;
      }
    }
    db.close();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ count, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
}

function measureRead(mode, path) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERE, 'read-child', mode, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`read child exited with ${code}`))));
  });
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-bench-sqlite-log-'));
  try {
    let n = 0;
    const fresh = () => join(dir, `run-${n++}.db`);
    const events = () => Array.from({ length: EVENTS }, (_, i) => envelope(i));
    const bytes = Buffer.byteLength(JSON.stringify(envelope(1)));
    // warm-up: JIT and file system
    await logAppend(fresh(), events());
    rawAppend(fresh(), events());
    const append = { log: [], raw: [] };
    const read = { log: [], raw: [] };
    for (let run = 0; run < RUNS; run++) {
      const logPath = fresh();
      const rawPath = fresh();
      append.log.push(await logAppend(logPath, events()));
      append.raw.push(rawAppend(rawPath, events()));
      read.log.push(await logRead(logPath));
      read.raw.push(rawRead(rawPath));
      for (const path of [logPath, rawPath]) await rm(path, { force: true });
    }

    const bigPath = join(dir, 'big.db');
    await fillBig(bigPath);
    const big = await measureRead('log', bigPath);
    const bigRaw = await measureRead('raw', bigPath);
    if (big.count !== BIG || bigRaw.count !== BIG) throw new Error(`read ${big.count} / ${bigRaw.count} of ${BIG}`);
    const note = `${bytes} B events, batches of ${BATCH.toLocaleString('en-US')}, median of ${RUNS}`;
    return [
      {
        name: `append ${EVENTS.toLocaleString('en-US')} events (synchronous FULL)`,
        unit: 'events/s',
        riverlog: median(append.log),
        baseline: median(append.raw),
        baselineName: 'raw INSERT, same batches',
        minRatio: 0.5,
        minAbsolute: 200_000,
        note: `${note}; runs: ${append.log.map(Math.round).join(', ')} vs ${append.raw.map(Math.round).join(', ')}`,
      },
      {
        name: `read ${EVENTS.toLocaleString('en-US')} events`,
        unit: 'events/s',
        riverlog: median(read.log),
        baseline: median(read.raw),
        baselineName: 'raw SELECT + JSON.parse',
        minRatio: 0.5,
        note: `${note}; runs: ${read.log.map(Math.round).join(', ')} vs ${read.raw.map(Math.round).join(', ')}`,
      },
      {
        name: `peak RSS reading ${BIG.toLocaleString('en-US')} events (child process)`,
        unit: 'MB',
        riverlog: big.maxRssMb,
        baseline: bigRaw.maxRssMb,
        baselineName: 'raw SELECT iterate + JSON.parse',
        maxAbsolute: 150,
        note: `read in ${big.seconds.toFixed(1)} s (raw ${bigRaw.seconds.toFixed(1)} s)`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === HERE && process.argv[2] === 'read-child') {
  await readChild(process.argv[3], process.argv[4]);
}
