// The fencing audit of the scale tests: was any write accepted from a process
// after its lease was taken?
//
// Two independent accounts are compared:
//  - the files' own, in commit order: triggers (created by the test's
//    connection, stored in the files, so they fire inside every process's
//    write transactions and number the changes in the order SQLite serialized
//    them) copy every change of the view's fences and checkpoints (view store
//    file) and of its lease rows (lease store file, which may be the same
//    file) into `scale_audit`;
//  - the builders' own: each reports every commit the store accepted (and
//    refused) with the fence it was made under (`accepted`/`refused` facts).
// A builder's accepted commit is placed in commit order by the checkpoint row
// it wrote. It is a violation when, at that point, the partition had already
// been claimed under a higher epoch (its fence row said so), when a fence or a
// checkpoint moved backwards, or when the commit's epoch was never granted to
// that builder by the lease store.
import { compareOffsets } from '@riverlog/core';
import Database from 'better-sqlite3';
import type { Fact } from './support.js';

/** A lease row of the view's group, as the lease table holds it. */
export interface LeaseRow {
  readonly partition: string;
  readonly owner: string | undefined;
  readonly epoch: number;
  readonly counter: number;
}

export interface AuditReport {
  /** Each a sentence saying what was accepted when it should not have been. */
  readonly violations: string[];
  readonly summary: {
    /** Commits the builders reported accepted (claims included), and of them claims (no positions). */
    accepted: number;
    claims: number;
    /** Commits refused, by code. */
    refused: Record<string, number>;
    /** Per partition, how many epochs committed to it. */
    epochs: Record<string, number>;
    /**
     * Accepted commits made under an epoch the lease store had already moved
     * past but that was not yet claimed in the view store (only known when
     * leases and views share a file, so one sequence orders both; else -1).
     */
    beforeClaim: number;
    /** Accepted commits with positions whose checkpoint row was not found (should be 0). */
    unplaced: number;
    /** Changes the triggers recorded. */
    recorded: number;
  };
}

export interface Audit {
  /** The view's leases now. */
  leases(): Promise<LeaseRow[]>;
  /** The view's leases that have an owner now. */
  liveLeases(): Promise<(LeaseRow & { owner: string })[]>;
  /** Compares the file's account with the builders' facts (of `view`, when they run several). */
  check(journal: readonly Fact[], view?: string): AuditReport;
  close(): void;
}

const LEASES = 'riverlog_leases_v2';
const FENCES = 'riverlog_view_fences';
const CHECKPOINTS = 'riverlog_view_checkpoints';
const REGISTRY = 'riverlog_view_registry';

/** The SQL text of a string. */
const text = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Creates `scale_audit` in a file and the triggers that fill it. */
function installAudit(
  db: Database.Database,
  path: string,
  triggers: { table: string; when: string; kind: string; values: string }[],
  also: readonly string[] = [],
): void {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]);
  for (const table of [...triggers.map((trigger) => trigger.table), ...also]) {
    if (!tables.has(table)) throw new Error(`the audit expects table ${table} in ${path}; it has ${[...tables].join(', ')}`);
  }
  db.exec(`CREATE TABLE IF NOT EXISTS scale_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,        -- 'lease', 'fence' or 'checkpoint'
    partition_id TEXT NOT NULL,
    owner TEXT,
    epoch INTEGER,
    counter INTEGER,
    last_offset TEXT
  )`);
  for (const { table, when, kind, values } of triggers) {
    for (const event of ['INSERT', 'UPDATE']) {
      db.exec(`CREATE TRIGGER scale_audit_${kind}_${event} AFTER ${event} ON ${table} WHEN ${when}
        BEGIN INSERT INTO scale_audit (kind, partition_id, owner, epoch, counter, last_offset) VALUES ('${kind}', ${values}); END`);
    }
  }
}

/**
 * Opens the audit on the view store file at `storePath` and the lease store
 * file at `leasesPath` (the same file or not), for view table `table`:
 * creates `scale_audit` and its triggers. Call it after the stores created
 * their tables and before any builder starts.
 */
export function openAudit(storePath: string, leasesPath: string, table: string, group = `view:${table}`): Audit {
  const store = new Database(storePath, { timeout: 10_000 });
  const shared = leasesPath === storePath;
  const leaseDb = shared ? store : new Database(leasesPath, { timeout: 10_000 });
  const ofTable = `(SELECT id FROM ${REGISTRY} WHERE table_name = ${text(table)})`;
  installAudit(
    store,
    storePath,
    [
      { table: FENCES, when: `NEW.table_id = ${ofTable}`, kind: 'fence', values: 'NEW.partition_id, NULL, NEW.epoch, NULL, NULL' },
      {
        table: CHECKPOINTS,
        when: `NEW.table_id = ${ofTable}`,
        kind: 'checkpoint',
        values: 'NEW.partition_id, NULL, NULL, NULL, NEW.last_offset',
      },
    ],
    [REGISTRY],
  );
  installAudit(leaseDb, leasesPath, [
    {
      table: LEASES,
      when: `NEW.group_name = ${text(group)}`,
      kind: 'lease',
      values: 'NEW.partition_id, NEW.owner, NEW.epoch, NEW.counter, NULL',
    },
  ]);
  const selectLeases = leaseDb.prepare(`SELECT partition_id, owner, epoch, counter FROM ${LEASES} WHERE group_name = ?`).raw();
  const readLeases = (): LeaseRow[] =>
    (selectLeases.all(group) as [string, string | null, number, number][]).map(([partition, owner, epoch, counter]) => ({
      partition,
      owner: owner ?? undefined,
      epoch,
      counter,
    }));
  const select = 'SELECT seq, kind, partition_id, owner, epoch, counter, last_offset FROM scale_audit ORDER BY seq';

  return {
    async leases() {
      return readLeases();
    },
    async liveLeases() {
      return readLeases().filter((lease): lease is LeaseRow & { owner: string } => lease.owner !== undefined);
    },
    check(journal, view) {
      const rows = store.prepare(select).raw().all() as AuditRow[];
      const leaseRows = shared ? [] : (leaseDb.prepare(select).raw().all() as AuditRow[]);
      return judge(rows, leaseRows, journal, view);
    },
    close() {
      store.close();
      if (!shared) leaseDb.close();
    },
  };
}

type AuditRow = [number, string, string, string | null, number | null, number | null, string | null];

/**
 * Judges the facts against the files' account: `rows` in commit order of the
 * store file (with the lease rows too when they share it), `leaseRows` of a
 * separate lease file (ordered among themselves only).
 */
function judge(rows: readonly AuditRow[], leaseRows: readonly AuditRow[], journal: readonly Fact[], view: string | undefined): AuditReport {
  const violations: string[] = [];
  /** Per partition: the file's account in commit order. */
  const fenceAt = new Map<string, { seq: number; epoch: number }[]>();
  const leaseAt = new Map<string, { seq: number; owner: string | null; epoch: number }[]>();
  /** Per partition and offset: the seqs of the checkpoint rows that wrote it, in order. */
  const checkpointSeqs = new Map<string, number[]>();
  const granted = new Set<string>();
  const lastCheckpoint = new Map<string, string>();
  const topFence = new Map<string, number>();
  const ordered = leaseRows.length === 0;
  for (const [, kind, partition, owner, epoch] of leaseRows) {
    if (kind === 'lease' && owner !== null) granted.add(`${partition}\u0000${owner}\u0000${epoch}`);
  }
  for (const [seq, kind, partition, owner, epoch, counter, offset] of rows) {
    if (kind === 'lease') {
      const list = leaseAt.get(partition) ?? [];
      list.push({ seq, owner, epoch: epoch as number });
      leaseAt.set(partition, list);
      if (owner !== null) granted.add(`${partition}\u0000${owner}\u0000${epoch}`);
      void counter;
    } else if (kind === 'fence') {
      const top = topFence.get(partition) ?? 0;
      if ((epoch as number) < top)
        violations.push(`partition ${partition}: the store's fence went from epoch ${top} down to ${epoch} (seq ${seq})`);
      topFence.set(partition, Math.max(top, epoch as number));
      const list = fenceAt.get(partition) ?? [];
      list.push({ seq, epoch: epoch as number });
      fenceAt.set(partition, list);
    } else if (kind === 'checkpoint') {
      const before = lastCheckpoint.get(partition);
      if (before !== undefined && compareOffsets(offset as string, before) < 0) {
        violations.push(`partition ${partition}: the checkpoint went back from ${before} to ${offset} (seq ${seq})`);
      }
      lastCheckpoint.set(partition, offset as string);
      const key = `${partition}\u0000${offset}`;
      const list = checkpointSeqs.get(key) ?? [];
      list.push(seq);
      checkpointSeqs.set(key, list);
    }
  }

  /** The last entry of a list (ordered by seq) before `seq`. */
  const before = <T extends { seq: number }>(list: readonly T[] | undefined, seq: number): T | undefined => {
    let found: T | undefined;
    for (const entry of list ?? []) {
      if (entry.seq >= seq) break;
      found = entry;
    }
    return found;
  };
  const highestBefore = (list: readonly { seq: number; epoch: number }[] | undefined, seq: number): number => {
    let top = 0;
    for (const entry of list ?? []) {
      if (entry.seq >= seq) break;
      top = Math.max(top, entry.epoch);
    }
    return top;
  };

  const used = new Map<string, number>();
  const epochs = new Map<string, Set<number>>();
  const refused: Record<string, number> = {};
  let accepted = 0;
  let claims = 0;
  let beforeClaim = 0;
  let unplaced = 0;
  for (const fact of journal) {
    if (view !== undefined && fact.data?.view !== view) continue;
    if (fact.word === 'refused') {
      const code = String(fact.data.code);
      refused[code] = (refused[code] ?? 0) + 1;
      continue;
    }
    if (fact.word !== 'accepted') continue;
    accepted++;
    const fence = (fact.data.fence ?? {}) as Record<string, number>;
    const positions = fact.data.positions as Record<string, string>;
    if (Object.keys(positions).length === 0) claims++;
    for (const [partition, epoch] of Object.entries(fence)) {
      if (!granted.has(`${partition}\u0000${fact.owner}\u0000${epoch}`)) {
        violations.push(`${fact.owner} committed partition ${partition} under epoch ${epoch}, which the lease store never gave it`);
      }
    }
    for (const [partition, offset] of Object.entries(positions)) {
      const epoch = fence[partition];
      if (epoch === undefined) {
        violations.push(`${fact.owner} committed partition ${partition} (to ${offset}) with no fence for it`);
        continue;
      }
      const key = `${partition}\u0000${offset}`;
      const index = used.get(key) ?? 0;
      const seq = checkpointSeqs.get(key)?.[index];
      if (seq === undefined) {
        unplaced++;
        continue;
      }
      used.set(key, index + 1);
      const set = epochs.get(partition) ?? new Set<number>();
      set.add(epoch);
      epochs.set(partition, set);
      const claimed = highestBefore(fenceAt.get(partition), seq);
      if (claimed > epoch) {
        violations.push(
          `${fact.owner} had partition ${partition} to ${offset} accepted under epoch ${epoch} (seq ${seq}) after it was claimed under epoch ${claimed}`,
        );
      }
      const lease = before(leaseAt.get(partition), seq);
      if (lease && lease.epoch > epoch) beforeClaim++;
    }
  }
  return {
    violations,
    summary: {
      accepted,
      claims,
      refused,
      epochs: Object.fromEntries([...epochs].map(([partition, set]) => [partition, set.size])),
      beforeClaim: ordered ? beforeClaim : -1,
      unplaced,
      recorded: rows.length + leaseRows.length,
    },
  };
}
