import type Database from 'better-sqlite3';
import { quoted } from './view-keys.js';

/** One commit's ids as the cache holds them. */
interface Chunk {
  /** The number of its last id (the table's ids are numbered 1, 2, … in the order committed). */
  readonly seq: number;
  /** Each id's {@link hashOf}. */
  readonly hashes: Int32Array;
}

/** A 30-bit FNV-1a hash of an id, never 0 (0 marks an empty slot). */
export function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h & 0x3fffffff) | 1;
}

/** An Int32Array of the ids' hashes. */
function hashesOf(ids: readonly string[]): Int32Array {
  const hashes = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) hashes[i] = hashOf(ids[i] as string);
  return hashes;
}

/**
 * A view table's window of recent event ids: one SQL row per commit
 * (`seq` = the number of the commit's last id, `ids` = a JSON array), not
 * one per id. One row per id cost two B-tree inserts per event (the table
 * and its UNIQUE index, the index's pages scattered by id) and a lookup per
 * id per batch: in the views benchmark 45% of all SQLite instructions and
 * 22 of 281 pages per 1,000-event commit.
 *
 * Membership is answered from a cache of the rows: each row's id hashes,
 * and one hash table over them (see `slots`; it may still hold hashes of
 * pruned rows, so a hit there is only a hint, confirmed against the rows
 * held and their stored ids). Rows never change once written, so `sync()` — called inside every
 * transaction that reads or checks ids — reads only the rows newer than the
 * newest it holds, and drops those older than the oldest still stored
 * (pruned, by this or another connection). The cache only ever holds
 * committed rows: a connection's own row joins it through `settle()`, called
 * once its transaction committed (and only if no `sync()` ran since, which
 * reads it back from the table instead), so a rolled back transaction
 * leaves nothing behind. As the check
 * runs inside the commit's write transaction, an id committed by another
 * process meanwhile is still refused.
 *
 * @example
 * const ids = new IdWindow(db, 'riverlog_view_1_products_1_ids', 100_000);
 * ids.sync(); // inside a transaction
 * ids.has('01J…');
 */
export class IdWindow {
  private readonly chunks: Chunk[] = [];
  /**
   * The chunks' hashes, open addressing with linear probing (0: empty): no
   * heap object per id and no churn (a `Set` of the id strings, 1,000 in and
   * out per commit, raised the peak RSS of a 1M-event replay from ~160 MB to
   * ~225 MB, all of it garbage awaiting a major GC). A hit is confirmed
   * against the chunks held and then the stored ids, so the hashes of
   * pruned chunks may stay: the table is rebuilt from the chunks held only
   * when it reaches half full, not at every prune (rebuilding 100,000
   * hashes per prune was 1.5% of that replay).
   */
  private slots = new Int32Array(1024);
  private used = 0;
  /** The newest `seq` the cache holds (0: none). */
  private newest = 0;
  /** The row `append` wrote in the transaction under way, for `settle` once it committed. */
  private pending: Chunk | undefined;
  private statements:
    | {
        readonly after: Database.Statement;
        readonly one: Database.Statement;
        readonly oldest: Database.Statement;
        readonly insert: Database.Statement;
        readonly prune: Database.Statement;
      }
    | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly name: string,
    readonly window: number,
  ) {}

  /** The SQL of the table. */
  static schema(name: string): string {
    return `CREATE TABLE ${quoted(name)} (seq INTEGER PRIMARY KEY, ids TEXT NOT NULL)`;
  }

  /** Prepared on first use: the table may be created after this object. */
  private get sql() {
    if (this.statements === undefined) {
      const t = quoted(this.name);
      this.statements = {
        after: this.db.prepare(`SELECT seq, ids FROM ${t} WHERE seq > ? ORDER BY seq`).raw(),
        one: this.db.prepare(`SELECT ids FROM ${t} WHERE seq = ?`).pluck(),
        oldest: this.db.prepare(`SELECT min(seq) FROM ${t}`).pluck(),
        insert: this.db.prepare(`INSERT INTO ${t} (seq, ids) VALUES (?, ?)`),
        prune: this.db.prepare(`DELETE FROM ${t} WHERE seq <= ?`),
      };
    }
    return this.statements;
  }

  /** Brings the cache up to the stored rows. Call inside a transaction. */
  sync(): void {
    this.pending = undefined;
    const { after, oldest } = this.sql;
    const first = oldest.get() as number | null;
    // Pruned rows go first: an id forgotten there may come back in a newer row. Their hashes stay in the table (see `slots`).
    while (this.chunks.length > 0 && (first === null || (this.chunks[0] as Chunk).seq < first)) this.chunks.shift();
    if (first === null) this.newest = 0;
    for (const [seq, json] of after.all(this.newest) as [number, string][])
      this.add({ seq, hashes: hashesOf(JSON.parse(json) as string[]) });
  }

  private add(chunk: Chunk): void {
    this.chunks.push(chunk);
    this.newest = chunk.seq;
    if ((this.used + chunk.hashes.length) * 2 > this.slots.length) this.rebuild(chunk.hashes.length);
    else for (const hash of chunk.hashes) this.put(hash);
  }

  /** Fills the table again from the chunks, sized for at least `room` more hashes at half load. */
  private rebuild(room = 0): void {
    let count = room;
    for (const chunk of this.chunks) count += chunk.hashes.length;
    let size = 1024;
    while (size < count * 4) size *= 2;
    if (size !== this.slots.length) this.slots = new Int32Array(size);
    else this.slots.fill(0);
    this.used = 0;
    for (const chunk of this.chunks) for (const hash of chunk.hashes) this.put(hash);
  }

  private put(hash: number): void {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i] as number;
      if (slot === hash) return;
      if (slot === 0) {
        this.slots[i] = hash;
        this.used++;
        return;
      }
    }
  }

  private holds(hash: number): boolean {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i] as number;
      if (slot === hash) return true;
      if (slot === 0) return false;
    }
  }

  /** Whether the window holds `id` (as of the last `sync()`; call inside that transaction: a hash hit reads the chunks that have it). */
  has(id: string): boolean {
    const hash = hashOf(id);
    if (!this.holds(hash)) return false;
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c] as Chunk;
      if (!chunk.hashes.includes(hash)) continue;
      const json = this.sql.one.get(chunk.seq) as string | undefined;
      if (json !== undefined && (JSON.parse(json) as string[]).includes(id)) return true;
    }
    return false;
  }

  /**
   * Stores `ids` as one row after `sync()` found none of them there, and
   * prunes the rows older than the window once per `pruneEvery` ids. Call
   * inside the write transaction that ran `sync()`, and `settle()` once it
   * committed.
   */
  append(ids: readonly string[], pruneEvery: number): void {
    const { insert, prune } = this.sql;
    const first = this.newest + 1;
    const last = this.newest + ids.length;
    insert.run(last, JSON.stringify(ids));
    this.pending = { seq: last, hashes: hashesOf(ids) };
    // A row is pruned once all its ids are older than the newest `window`: the store keeps at least `window` ids.
    if (last > this.window && Math.floor(last / pruneEvery) > Math.floor((first - 1) / pruneEvery)) prune.run(last - this.window);
  }

  /**
   * Adds the row `append` wrote to the cache, its transaction committed:
   * the same strings the check hashed already, rather than reading the row
   * back. A no-op when a `sync()` ran since (it read the row) or nothing was
   * appended; rows pruned by it go at the next `sync()`.
   */
  settle(): void {
    const chunk = this.pending;
    if (chunk === undefined) return;
    this.pending = undefined;
    this.add(chunk);
  }
}
