// producer.emit (validate, wrap, size check, batch) against bare log.append of
// envelopes built beforehand, on the same kind of log in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCatalog, defineEvent, memoryLog, t } from '@riverlog/core';
import { createProducer } from '@riverlog/producer';

export const title = 'Producer';

const EVENTS = 50_000;
const BATCH = 500;
const RUNS = 3;
const source = 'bench/producer';
const catalog = defineCatalog([
  defineEvent('product/purchase', { data: { id: t.string, quantity: t.number, price: t.number, note: t.string } }),
]);
const payload = (i) => ({ id: `product-${i % 1000}`, quantity: (i % 5) + 1, price: 19.99, note: 'gift wrap please' });

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
  const events = Array.from({ length: EVENTS }, (_, i) =>
    catalog.create('product/purchase', `product-${i % 1000}`, payload(i), { source }),
  );
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += BATCH) await log.append(events.slice(i, i + BATCH));
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  return EVENTS / seconds;
}

async function producerEmit(open) {
  const log = open();
  const producer = createProducer({ log, catalog, source });
  const started = performance.now();
  const calls = new Array(EVENTS);
  for (let i = 0; i < EVENTS; i++) calls[i] = producer.emit('product/purchase', `product-${i % 1000}`, payload(i));
  await Promise.all(calls);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await log.close();
  return EVENTS / seconds;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run() {
  const factory = await logFactory();
  try {
    const sample = catalog.create('product/purchase', 'product-1', payload(1), { source });
    const bytes = Buffer.byteLength(JSON.stringify(sample));
    await producerEmit(factory.open); // warm-up: JIT and file system
    await bareAppend(factory.open);
    const emit = [];
    const append = [];
    for (let run = 0; run < RUNS; run++) {
      append.push(await bareAppend(factory.open));
      emit.push(await producerEmit(factory.open));
    }
    return [
      {
        name: `producer.emit, ${EVENTS.toLocaleString('en-US')} events of ${bytes} B, not awaited one by one`,
        unit: 'events/s',
        riverlog: median(emit),
        baselineName: `log.append of pre-built envelopes, batches of ${BATCH}`,
        baseline: median(append),
        minRatio: 0.7,
        note: `${factory.name}; median of ${RUNS}`,
      },
    ];
  } finally {
    await factory.cleanup();
  }
}
