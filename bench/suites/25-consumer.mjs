// The consumer (decode, handler, checkpoints) against reading the same SQLite
// log file raw with better-sqlite3 (select + JSON.parse), and against a bare
// log.read loop, in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsumer } from '@riverlog/consumer';
import { createEvent, defineCatalog, defineEvent, ignore, memoryDeadLetters, t } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteLog } from '@riverlog/sqlite';
import Database from 'better-sqlite3';

export const title = 'Consumer (SQLite log)';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 4_000 : 200_000;
const RUNS = QUICK ? 1 : 5;

export const about = `A consumer with a handler that counts, checkpointing to a SQLite checkpoint store with its defaults, against a raw better-sqlite3 select + JSON.parse of the same rows and a bare \`log.read\` loop. ${EVENTS.toLocaleString('en-US')} events of ~200 bytes, 4 partitions; riverlog and baselines interleaved, median of ${RUNS}.`;
const catalog = defineCatalog([
  defineEvent('cart/add', { data: { sku: t.string, quantity: t.number, note: t.string } }),
  defineEvent('cart/remove', { data: { sku: t.string } }),
]);

async function prepare(dir) {
  const path = join(dir, 'log.db');
  const log = sqliteLog({ path, partitions: 4 });
  const batch = [];
  for (let i = 0; i < EVENTS; i++) {
    batch.push(
      createEvent(
        catalog,
        'cart/add',
        `cart-${i % 1000}`,
        { sku: `sku-${i % 997}`, quantity: (i % 5) + 1, note: 'x'.repeat(40) },
        { source: 'bench' },
      ),
    );
    if (batch.length === 1000) await log.append(batch.splice(0));
  }
  await log.close();
  return path;
}

function rawRead(path) {
  const db = new Database(path, { readonly: true });
  const started = performance.now();
  let count = 0;
  // The log keeps each partition in a table of its own, riverlog_events_<partition>.
  for (let partition = 0; partition < 4; partition++) {
    for (const row of db.prepare(`SELECT envelope FROM riverlog_events_${partition} ORDER BY "offset"`).iterate()) {
      if (JSON.parse(row.envelope).type) count++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  if (count !== EVENTS) throw new Error(`raw read saw ${count} of ${EVENTS}`);
  return EVENTS / seconds;
}

async function logRead(path) {
  const log = sqliteLog({ path });
  const started = performance.now();
  let count = 0;
  for await (const batch of log.read()) count += batch.records.length;
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  if (count !== EVENTS) throw new Error(`log.read saw ${count} of ${EVENTS}`);
  return EVENTS / seconds;
}

async function consume(path, dir, run) {
  const log = sqliteLog({ path });
  const checkpoints = sqliteCheckpointStore(join(dir, `checkpoints-${run}.db`));
  let count = 0;
  const consumer = createConsumer({
    log,
    catalog,
    group: 'bench',
    checkpoints,
    deadLetters: memoryDeadLetters(),
    handlers: {
      'cart/add': () => {
        count++;
      },
      'cart/remove': ignore,
    },
  });
  const started = performance.now();
  await consumer.start();
  await consumer.caughtUp({ timeoutMs: 600_000 });
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  await checkpoints.close();
  await log.close();
  if (count !== EVENTS) throw new Error(`consumer handled ${count} of ${EVENTS}`);
  return EVENTS / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-bench-consumer-'));
  try {
    const path = await prepare(dir);
    rawRead(path);
    await logRead(path);
    await consume(path, dir, 'warm');
    const raw = [];
    const read = [];
    const consumed = [];
    for (let run = 0; run < RUNS; run++) {
      raw.push(rawRead(path));
      read.push(await logRead(path));
      consumed.push(await consume(path, dir, run));
    }
    return [
      { name: 'log.read loop', unit: 'events/s', riverlog: median(read), baseline: median(raw), baselineName: 'raw select + JSON.parse' },
      {
        name: 'consumer, counting handler',
        unit: 'events/s',
        riverlog: median(consumed),
        baseline: median(raw),
        baselineName: 'raw select + JSON.parse',
        minRatio: 0.8,
      },
      { name: 'consumer vs log.read', unit: 'events/s', riverlog: median(consumed), baseline: median(read), baselineName: 'log.read loop' },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
