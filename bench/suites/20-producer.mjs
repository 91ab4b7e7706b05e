// producer.emit (validate, wrap, size check, batch) against bare log.append of
// envelopes built beforehand, on the same kind of log in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvent, defineCatalog, defineEvent, memoryLog, t } from '@riverlog/core';
import { createProducer } from '@riverlog/producer';

export const title = 'Producer';

/** RIVERLOG_BENCH_QUICK=1: small sizes, one run (a check that the suite works). */
const QUICK = process.env.RIVERLOG_BENCH_QUICK === '1';
const EVENTS = QUICK ? 2_000 : 50_000;
const BATCH = 500;
const CONCURRENT = QUICK ? 100 : 1_000;
const RUNS = QUICK ? 1 : 5;
const source = 'bench';
const catalog = defineCatalog([defineEvent('cart/add', { data: { sku: t.string, quantity: t.number } })]);
const subject = (i) => `cart-${i % 1000}`;
const payload = (i) => ({ sku: `p-${i % 997}`, quantity: (i % 5) + 1 });

/** The SQLite file log once @riverlog/sqlite is built, else the memory log. */
async function logFactory() {
  try {
    const { sqliteLog } = await import('@riverlog/sqlite');
    const dir = await mkdtemp(join(tmpdir(), 'riverlog-bench-producer-'));
    let n = 0;
    return {
      name: 'SQLite file log',
      open: () => sqliteLog({ path: join(dir, `log-${n++}.db`) }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch {
    return { name: 'memory log (@riverlog/sqlite not built)', open: () => memoryLog(), cleanup: async () => {} };
  }
}

async function bareAppend(open) {
  const log = open();
  const events = Array.from({ length: EVENTS }, (_, i) => createEvent(catalog, 'cart/add', subject(i), payload(i), { source }));
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH) await log.append(events.slice(i, i + BATCH));
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  return EVENTS / seconds;
}

/** `concurrent` emits in flight at a time, as from that many concurrent requests. */
async function producerEmit(open, concurrent) {
  const log = open();
  const producer = createProducer({ log, catalog, source });
  const started = performance.now();
  for (let start = 0; start < EVENTS; start += concurrent) {
    const calls = [];
    for (let i = start; i < Math.min(start + concurrent, EVENTS); i++) calls.push(producer.emit('cart/add', subject(i), payload(i)));
    await Promise.all(calls);
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await log.close();
  return EVENTS / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run() {
  const factory = await logFactory();
  try {
    const bytes = Buffer.byteLength(JSON.stringify(createEvent(catalog, 'cart/add', subject(1), payload(1), { source })));
    // warm-up: JIT and file system
    await producerEmit(factory.open, CONCURRENT);
    await producerEmit(factory.open, EVENTS);
    await bareAppend(factory.open);
    const append = [];
    const concurrent = [];
    const allAtOnce = [];
    for (let run = 0; run < RUNS; run++) {
      append.push(await bareAppend(factory.open));
      concurrent.push(await producerEmit(factory.open, CONCURRENT));
      allAtOnce.push(await producerEmit(factory.open, EVENTS));
    }
    const baselineName = `log.append of pre-built envelopes, batches of ${BATCH}`;
    const note = `${factory.name}; ${EVENTS.toLocaleString('en-US')} events of ${bytes} B; median of ${RUNS}`;
    return [
      {
        name: `producer.emit (validate, wrap, size check, batch), ${CONCURRENT.toLocaleString('en-US')} emits in flight`,
        unit: 'events/s',
        riverlog: median(concurrent),
        baselineName,
        baseline: median(append),
        minRatio: 0.7,
        note,
      },
      {
        name: `producer.emit, all ${EVENTS.toLocaleString('en-US')} at once (maxPending holds the rest)`,
        unit: 'events/s',
        riverlog: median(allAtOnce),
        baselineName,
        baseline: median(append),
        note: `${note}; calls beyond the default maxPending of 10,000 wait for room`,
      },
    ];
  } finally {
    await factory.cleanup();
  }
}
