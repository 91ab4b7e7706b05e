import { sqliteLog } from '@riverlog/sqlite';
import { defineCatalog, defineEvent, t } from '@riverlog/core';
import Database from 'better-sqlite3';
import fs from 'node:fs';
const N = +process.env.N || 500_000, B = +process.env.B || 1000;
const c = defineCatalog([defineEvent('product/purchase', { data: { id: t.string, quantity: t.number, price: t.number, note: t.string } })]);
const dir = '/tmp/rl/bench'; fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir);
const mk = () => Array.from({ length: N }, (_, i) => c.create('product/purchase', `product-${i % 1000}`, { id: `product-${i % 1000}`, quantity: 1 + (i % 5), price: 19.99, note: 'gift wrap please, thanks a lot' }, { source: 'bench/x' }));
console.log('bytes', Buffer.byteLength(JSON.stringify(mk.call(null).slice(0,1)[0] ?? {})));
async function ours() {
  const events = mk();
  const log = sqliteLog({ path: `${dir}/ours-${Math.random()}.db`, synchronous: process.env.SYNC || 'full' });
  const t0 = performance.now();
  for (let i = 0; i < N; i += B) await log.append(events.slice(i, i + B));
  const w = N / ((performance.now() - t0) / 1000);
  const t1 = performance.now(); let n = 0;
  for await (const batch of log.read()) n += batch.length;
  const r = N / ((performance.now() - t1) / 1000);
  await log.close();
  return { w, r, n };
}
function raw() {
  const events = mk();
  const db = new Database(`${dir}/raw-${Math.random()}.db`); db.pragma('journal_mode = WAL'); db.pragma('synchronous = ' + (process.env.SYNC || 'full'));
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO events (body) VALUES (?)');
  const tx = db.transaction((batch) => { for (const e of batch) ins.run(JSON.stringify(e)); });
  const t0 = performance.now();
  for (let i = 0; i < N; i += B) tx.immediate(events.slice(i, i + B));
  const w = N / ((performance.now() - t0) / 1000);
  const t1 = performance.now(); let n = 0;
  for (const row of db.prepare('SELECT body FROM events').raw().iterate()) { JSON.parse(row[0]); n++; }
  const r = N / ((performance.now() - t1) / 1000);
  db.close();
  return { w, r, n };
}
for (let k = 0; k < 2; k++) {
  const a = raw(); const b = await ours();
  console.log(`raw w ${Math.round(a.w)} r ${Math.round(a.r)} | ours w ${Math.round(b.w)} r ${Math.round(b.r)} | ratio w ${(b.w / a.w).toFixed(2)} r ${(b.r / a.r).toFixed(2)}`);
}
