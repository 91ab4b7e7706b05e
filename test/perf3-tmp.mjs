import { sqliteLog } from '@riverlog/sqlite';
import { defineCatalog, defineEvent, t } from '@riverlog/core';
import Database from 'better-sqlite3';
import fs from 'node:fs';
const N = 300_000, B = 1000;
const c = defineCatalog([defineEvent('product/purchase', { data: { id: t.string, quantity: t.number, price: t.number, note: t.string } })]);
const dir = '/tmp/rl/bench'; fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir);
const mk = () => Array.from({ length: N }, (_, i) => c.create('product/purchase', `product-${i % 1000}`, { id: `product-${i % 1000}`, quantity: 1 + (i % 5), price: 19.99, note: 'gift wrap please, thanks a lot' }, { source: 'bench/x' }));
const res = {};
async function ours() {
  const events = mk(); const log = sqliteLog({ path: `${dir}/ours-${Math.random()}.db` });
  const t0 = performance.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += B) await log.append(events.slice(i, i + B));
  const cu = process.cpuUsage(c0); await log.close();
  return Math.round(N / ((performance.now() - t0) / 1000)) + '/' + Math.round(N / ((cu.user + cu.system) / 1e6));
}
function raw() {
  const events = mk();
  const db = new Database(`${dir}/raw-${Math.random()}.db`); db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO events (body) VALUES (?)');
  const tx = db.transaction((batch) => { for (const e of batch) ins.run(JSON.stringify(e)); });
  const t0 = performance.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += B) tx.immediate(events.slice(i, i + B));
  const cu = process.cpuUsage(c0); db.close();
  return Math.round(N / ((performance.now() - t0) / 1000)) + '/' + Math.round(N / ((cu.user + cu.system) / 1e6));
}
for (let k = 0; k < 3; k++) { (res.raw ??= []).push(raw()); (res.ours ??= []).push(await ours()); }
console.log(res);
