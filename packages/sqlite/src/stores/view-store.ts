import {
  type PositionMap,
  RiverlogError,
  type StoredRow,
  type ViewCommit,
  type ViewPage,
  type ViewStore,
  type ViewStoreLimits,
} from '@riverlog/core';
import {
  checkCommit,
  checkFence,
  checkQuery,
  checkSameTable,
  checkTableSpec,
  DEFAULT_VIEW_LIMITS,
  encodeCursor,
  idConflict,
  idPruneEvery,
  rowConflict,
  unknownTable,
} from '@riverlog/core/backend';
import { openStoreConnection, type SqliteSource, whileBusy } from '../connection.js';
import { type Checkpointer, startCheckpointer } from './checkpointer.js';
import type { IdWindow } from './view-ids.js';
import { fromSortable, sortable, upperBound } from './view-keys.js';
import { chunkFor, VIEW_SCHEMA, type ViewTable, ViewTables } from './view-tables.js';

/**
 * The SQLite view store's limits: 10,000 row writes per commit (a commit is
 * one transaction; larger ones hold the write lock for too long) and rows of
 * up to 1 MiB of JSON (SQLite itself takes far more, but a row is read and
 * rewritten whole on every event that touches it).
 */
export const SQLITE_VIEW_LIMITS: ViewStoreLimits = DEFAULT_VIEW_LIMITS;

/**
 * The WAL pages after which a store in its own file checkpoints on its own
 * connection (SQLite's `wal_autocheckpoint`; its default is 1,000): a
 * safety cap only. The checkpoints are a worker thread's (see
 * `CHECKPOINT_EVERY_ROWS`), since one run by SQLite inside a commit copies
 * the whole WAL into the file on the event loop: 266–377 ms for the ~125 MB
 * of 32,000 pages in a 300,000-event replay, and SQLite's 1,000 pages
 * would write the same hot index pages back 32 times as often. The store's
 * connection reaches the cap only if the worker failed or falls behind; it
 * then copies what the worker has not, as before the worker.
 */
const WAL_CHECKPOINT_PAGES = 32_000;

/**
 * Rows committed (plus one a commit) after which a store in its own file
 * asks its checkpoint worker for a checkpoint, one at a time: some 4,000–
 * 10,000 WAL pages (16–40 MB) of the views benchmark's products view.
 */
const CHECKPOINT_EVERY_ROWS = 20_000;

/**
 * The page cache of a store in its own file, in KiB (SQLite's default is
 * 2,000): a commit of 1,000 events dirties some 600 pages of a large view
 * (its index entries land all over the index), a replay's commit of 2,000
 * some 1,200, more than the default cache holds, so SQLite spilled and
 * re-read pages mid-transaction. 8 MB holds them; the 16 MB tried before
 * was no faster in the 1M-event views replay (a page it no longer holds is
 * read back from the OS's file cache) and added ~10 MB to its peak RSS.
 */
const CACHE_KIB = 8_000;

/**
 * Where a store in its own file keeps SQLite's temporary files: in memory.
 * Each multi-row INSERT or UPDATE of a commit keeps a statement journal (so
 * that it alone can be undone), the original of every page it touches; in a
 * file (the default past 64 KiB) that is one write() per page. In the
 * 1M-event replay of the views benchmark those were half of all write()
 * calls and 13% of the time; in memory a copy, freed when the statement ends.
 */
const TEMP_STORE = 'MEMORY';

/** Thrown inside a commit's transaction when a guarded statement changed fewer rows than given: the rows and the versions they expected. */
class MovedRows extends Error {
  constructor(readonly rows: readonly [string, number][]) {
    super('a row version moved');
  }
}

/**
 * A view store in SQLite: tables of JSON rows by key with declared indexes,
 * each table's checkpoint, fences and recent event ids, and aliases, in its
 * own file or beside the log. A commit is one transaction: the fence, every
 * row's version and the ids are checked and everything is written, or
 * nothing is (`LeaseLostError`, `ConflictError` naming the row or the id).
 * See the package README for the tables and the limits.
 *
 * @example
 * import { sqliteViewStore } from '@riverlog/sqlite';
 *
 * const store = sqliteViewStore({ path: 'data/views.db' });
 * await store.createTable('products@1', { indexes: ['byCategory'], idWindow: 100_000 });
 * await store.commit('products@1', {
 *   rows: [{ key: 'p1', value: { name: 'Boot' }, applied: { '0': '12' }, expectedVersion: 0, indexes: { byCategory: ['shoes', 'Boot'] } }],
 *   ids: ['01J…'],
 *   positions: { '0': '12' },
 * });
 * await store.list('products@1', { index: 'byCategory', prefix: ['shoes'] }); // { rows: [{ key: 'p1', value: { name: 'Boot' } }] }
 */
/** The SQLite view store: the `ViewStore` port, and the names of the tables it holds. */
export interface SqliteViewStore extends ViewStore {
  /**
   * The view tables the file holds (`products@1`, …), in name order: for
   * tools that list a store's versions (the `riverlog views` command).
   */
  tables(): Promise<string[]>;
}

export function sqliteViewStore(source: SqliteSource): SqliteViewStore {
  const connection = openStoreConnection(source, 'sqliteViewStore', VIEW_SCHEMA, 'NORMAL');
  const { db } = connection;
  // In its own file: WAL checkpoints on a worker thread, a larger page cache, statement journals in memory (a database given is left as its owner set it).
  let checkpointer: Checkpointer | undefined;
  if (connection.owned) {
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    db.pragma(`temp_store = ${TEMP_STORE}`);
    if (!db.memory && db.pragma('journal_mode', { simple: true }) === 'wal')
      checkpointer = startCheckpointer(db.name, CHECKPOINT_EVERY_ROWS);
  }
  const tables = new ViewTables(db);
  const limits = SQLITE_VIEW_LIMITS;
  const selectPositions = db.prepare('SELECT partition_id, last_offset FROM riverlog_view_checkpoints WHERE table_id = ?').raw();
  const putPosition = db.prepare(
    'INSERT INTO riverlog_view_checkpoints (table_id, partition_id, last_offset) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_offset = excluded.last_offset',
  );
  const selectFences = db.prepare('SELECT partition_id, epoch FROM riverlog_view_fences WHERE table_id = ?').raw();
  const putFence = db.prepare(
    'INSERT INTO riverlog_view_fences (table_id, partition_id, epoch) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET epoch = excluded.epoch',
  );
  const getAlias = db.prepare('SELECT table_name FROM riverlog_view_aliases WHERE alias = ?').pluck();
  const selectTables = db.prepare('SELECT table_name FROM riverlog_view_registry ORDER BY table_name').pluck();
  const putAlias = db.prepare(
    'INSERT INTO riverlog_view_aliases (alias, table_name) VALUES (?, ?) ON CONFLICT DO UPDATE SET table_name = excluded.table_name',
  );

  const inTransaction = db.transaction((work: () => unknown) => {
    tables.sync();
    return work();
  });

  /**
   * Runs `work` in a write transaction, waiting for another connection's lock
   * asynchronously (`connection.write`), then `committed` with its result
   * right after the commit, before anything else can use the connection; a
   * rolled back transaction may have undone DDL the cache saw, so the cache goes.
   */
  function write<T>(work: () => T, committed?: (result: T) => void): Promise<T> {
    return connection.write(() => {
      let result: T;
      try {
        result = inTransaction.immediate(work) as T;
      } catch (error) {
        tables.forget();
        throw error;
      }
      committed?.(result);
      return result;
    });
  }
  /** Runs `work` in a read transaction now (one snapshot; the schema cannot change between checking it and reading). */
  function readNow<T>(table: string, work: (found: ViewTable | undefined) => T): T {
    connection.ensureOpen();
    try {
      return inTransaction.deferred(() => work(tables.find(table))) as T;
    } catch (error) {
      tables.forget();
      throw error;
    }
  }
  /** `readNow`, retried asynchronously while another connection holds a lock that blocks reads (WAL recovery). */
  function read<T>(table: string, work: (found: ViewTable | undefined) => T): Promise<T> {
    return whileBusy(() => readNow(table, work));
  }

  function checkAndStoreFence(target: ViewTable, table: string, commit: ViewCommit): void {
    if (commit.fence === undefined) return;
    const stored = new Map(selectFences.all(target.id) as [string, number][]);
    checkFence(`View table ${table}`, commit.fence, (partition) => stored.get(partition));
    for (const partition in commit.fence) {
      const epoch = commit.fence[partition] as number;
      if (stored.get(partition) !== epoch) putFence.run(target.id, partition, epoch);
    }
  }

  /**
   * Writes each key's last write, guarded: new rows with multi-row INSERTs
   * that skip existing keys; rewrites with multi-row UPDATEs matching key
   * and version, first (see `tryInPlace`) ones that also match the stored
   * sort keys and leave the indexes alone, then the rest whole; a whole
   * statement that changed fewer rows than it was given means a version
   * moved (the transaction is then rolled back).
   * A key written twice in a commit must name the version its previous write makes.
   */
  function writeRows(target: ViewTable, table: string, commit: ViewCommit, checked: ReturnType<typeof checkCommit>): void {
    const writes = commit.rows;
    if (writes.length === 0) return;
    // Per key: the version it must have now, the version it gets, and its last write.
    const keys = new Map<string, { expected: number; version: number; last: number }>();
    let inserts = 0;
    for (let i = 0; i < writes.length; i++) {
      const { key, expectedVersion } = writes[i] as (typeof writes)[number];
      const seen = keys.get(key);
      if (seen === undefined) {
        keys.set(key, { expected: expectedVersion, version: expectedVersion + 1, last: i });
        if (expectedVersion === 0) inserts++;
      } else {
        if (seen.version !== expectedVersion) throw rowConflict(table, key, expectedVersion, seen.version);
        seen.version++;
        seen.last = i;
      }
    }
    const width = target.width;
    /** Writes version, applied, value and the sort keys of write `i` from `args[at]`. */
    const fill = (args: unknown[], at: number, version: number, i: number) => {
      args[at] = version;
      args[at + 1] = JSON.stringify((writes[i] as (typeof writes)[number]).applied);
      args[at + 2] = checked.json[i] ?? null;
      const sorts = checked.sorts[i];
      for (let c = 0; c < target.indexes.length; c++) {
        const sort = sorts?.get(target.indexes[c] as string);
        args[at + 3 + c] = sort === undefined ? null : sortable(sort);
      }
    };
    // In key order, each statement's rows land next to each other in the B-tree (random order touched twice the pages).
    const ordered = keys.size > 1 ? [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [...keys];
    type Planned = (typeof ordered)[number];
    /** Runs `statement` over `rows` in multi-row chunks; when it returns a count, a chunk must have changed every row it names (else a version moved). */
    const run = (rows: Planned[], isNew: boolean, statement: (count: number, args: unknown[]) => number | undefined) => {
      const rowWidth = isNew ? width : width + 1;
      for (let start = 0; start < rows.length; ) {
        const count = chunkFor(rows.length - start, rowWidth);
        const args = new Array(count * rowWidth);
        for (let n = 0; n < count; n++) {
          const [key, row] = rows[start + n] as Planned;
          const at = n * rowWidth;
          args[at] = key;
          if (isNew) fill(args, at + 1, row.version, row.last);
          else {
            args[at + 1] = row.expected;
            fill(args, at + 2, row.version, row.last);
          }
        }
        const changed = statement(count, args);
        if (changed !== undefined && changed !== count) {
          throw new MovedRows(rows.slice(start, start + count).map(([key, row]) => [key, row.expected]));
        }
        start += count;
      }
    };
    if (inserts > 0)
      run(inserts === ordered.length ? ordered : ordered.filter(([, row]) => row.expected === 0), true, (count, args) =>
        target.insert(count, args),
      );
    if (inserts === ordered.length) return;
    let rewrites = inserts === 0 ? ordered : ordered.filter(([, row]) => row.expected !== 0);
    // Most rewrites keep their sort keys: rewritten in place first, they leave the indexes' pages alone.
    if (target.tryInPlace()) {
      const done = new Set<string>();
      run(rewrites, false, (count, args) => {
        target.updateInPlace(count, args, (key) => done.add(key));
        return undefined;
      });
      target.triedInPlace(done.size, rewrites.length);
      if (done.size > 0) rewrites = rewrites.filter(([key]) => !done.has(key));
    }
    if (rewrites.length > 0) run(rewrites, false, (count, args) => target.update(count, args));
  }

  /** The conflict behind `MovedRows`, read once the transaction is rolled back: the first row whose version is not the one expected. */
  function conflictOf(table: string, moved: MovedRows): Error {
    const stored = new Map<string, number>();
    try {
      readNow(table, (target) =>
        target?.versions(
          moved.rows.map(([key]) => key),
          ([key, version]) => stored.set(key, version),
        ),
      );
    } catch {
      // Named from what the commit expected only.
    }
    const [key, expected] = moved.rows.find(([k, e]) => (stored.get(k) ?? 0) !== e) ?? (moved.rows[0] as [string, number]);
    return rowConflict(table, key, expected, stored.get(key) ?? 0);
  }

  /** Checks the commit's ids against the window (and each other) and stores them; an id already there is a `CONFLICT`. */
  function rememberIds(target: ViewTable, table: string, ids: readonly string[]): IdWindow | undefined {
    const window = target.ids;
    if (window === undefined || ids.length === 0) return undefined;
    window.sync();
    const fresh = new Set<string>();
    for (const id of ids) {
      if (fresh.has(id) || window.has(id)) throw idConflict(table, id);
      fresh.add(id);
    }
    window.append(ids, idPruneEvery(window.window));
    return window;
  }

  const store: SqliteViewStore = {
    limits,
    async createTable(table, spec) {
      checkTableSpec(table, spec);
      // Most calls find the table there already: a read says so without waiting for another writer's lock.
      const existing = await read(table, (found) => found && { indexes: found.indexes, idWindow: found.idWindow });
      if (existing) {
        checkSameTable(table, existing, spec);
        return;
      }
      await write(() => {
        const found = tables.find(table);
        if (!found) tables.create(table, [...spec.indexes], spec.idWindow);
        else checkSameTable(table, found, spec);
      });
    },
    async get(table, key) {
      const value = await read(table, (found) => found?.value(key));
      return value === undefined ? undefined : JSON.parse(value);
    },
    async rows(table, keys) {
      const found = new Map<string, StoredRow>();
      if (keys.length === 0) return found;
      await read(table, (target) =>
        target?.rows(keys, ([key, version, applied, value]) => {
          found.set(key, { key, value: value === null ? undefined : JSON.parse(value), applied: JSON.parse(applied), version });
        }),
      );
      return found;
    },
    async list(table, query): Promise<ViewPage> {
      return read(table, (target) => {
        if (!target) return { rows: [] };
        const q = checkQuery(table, query, target.indexes);
        const index = q.index === undefined ? undefined : target.indexes.indexOf(q.index);
        let range: { low: Buffer; high: Buffer } | undefined;
        if (q.prefix !== '') {
          const low = sortable(q.prefix);
          range = { low, high: upperBound(low) };
        }
        const after = q.after === undefined || index === undefined ? q.after : sortable(q.after);
        const found = target.list(index, q.reverse ? 'desc' : 'asc', q.limit + 1, range, after);
        const page = found.length > q.limit ? found.slice(0, q.limit) : found;
        const rows = page.map(([key, value]) => ({ key, value: JSON.parse(value) }));
        const last = page[page.length - 1];
        if (found.length <= q.limit || !last) return { rows };
        return { rows, cursor: encodeCursor(typeof last[2] === 'string' ? last[2] : fromSortable(last[2])) };
      });
    },
    async positions(table) {
      return read(table, (target) =>
        target ? (Object.fromEntries(selectPositions.all(target.id) as [string, string][]) as PositionMap) : {},
      );
    },
    async seen(table, ids) {
      const found = new Set<string>();
      if (ids.length === 0) return found;
      await read(table, (target) => {
        const window = target?.ids;
        if (window === undefined) return;
        window.sync();
        for (const id of ids) if (window.has(id)) found.add(id);
      });
      return found;
    },
    async commit(table, commit) {
      connection.ensureOpen();
      // The checks that need no lock run first, against the table as this connection last saw it.
      let hint = tables.find(table);
      let checked = hint ? checkCommit(table, commit, limits, hint.indexes) : undefined;
      try {
        await write(
          () => {
            const target = tables.find(table);
            if (!target) throw unknownTable(table);
            if (target !== hint || !checked) {
              hint = target;
              checked = checkCommit(table, commit, limits, target.indexes);
            }
            checkAndStoreFence(target, table, commit);
            writeRows(target, table, commit, checked);
            const ids = rememberIds(target, table, commit.ids);
            for (const partition in commit.positions) putPosition.run(target.id, partition, commit.positions[partition]);
            return ids;
          },
          (ids) => {
            ids?.settle();
            checkpointer?.committed(commit.rows.length + 1);
          },
        );
      } catch (error) {
        throw error instanceof MovedRows ? conflictOf(table, error) : error;
      }
    },
    async alias(name) {
      return whileBusy(() => {
        connection.ensureOpen();
        return (getAlias.get(name) as string | undefined) ?? undefined;
      });
    },
    async setAlias(name, table, expected) {
      if (typeof table !== 'string' || table === '') {
        throw new RiverlogError('INVALID_OPTION', `setAlias(${JSON.stringify(name)}): the table must be a non-empty string.`);
      }
      return write(() => {
        if ((getAlias.get(name) as string | undefined) !== expected) return false;
        putAlias.run(name, table);
        return true;
      });
    },
    async drop(table) {
      await write(() => tables.drop(table));
    },
    async tables() {
      return whileBusy(() => {
        connection.ensureOpen();
        return selectTables.all() as string[];
      });
    },
    async close() {
      // The worker first: closing the last connection checkpoints what is left on this thread.
      await checkpointer?.close();
      connection.close();
    },
  };
  if (checkpointer) dropped.register(store, checkpointer);
  return store;
}

/**
 * Ends the checkpoint worker of a store collected without `close()`: its
 * connection is collected and closed with it, the worker's would stay open
 * (a thread, ~9 MB, and the file's WAL kept) until the process ends.
 */
const dropped = new FinalizationRegistry<Checkpointer>((checkpointer) => void checkpointer.close());
