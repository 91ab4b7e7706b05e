import type Database from 'better-sqlite3';
import { eventsTable } from './log-file.js';

/** The statements on one partition's table, prepared when first used. */
export class PartitionStatements {
  /** The partition's last offset (undefined when empty). */
  readonly last: Database.Statement;
  /** `[offset, envelope]` rows from an offset on, in offset order. */
  readonly page: Database.Statement;
  /** The envelope at an offset as stored, in bytes (undefined when absent). */
  readonly bytesAt: Database.Statement;
  private typed: Database.Statement | undefined;
  private readonly inserts = new Map<number, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
  ) {
    this.last = db.prepare(`SELECT "offset" FROM ${table} ORDER BY "offset" DESC LIMIT 1`).pluck();
    this.page = db.prepare(`SELECT "offset", envelope FROM ${table} WHERE "offset" >= ? ORDER BY "offset" LIMIT ?`).raw();
    this.bytesAt = db.prepare(`SELECT CAST(envelope AS BLOB) FROM ${table} WHERE "offset" = ?`).pluck();
  }

  /**
   * `[offset, envelope]` rows from an offset on, where rows of types not in
   * the JSON array bound first come back with a NULL envelope: they move the
   * cursor on without being parsed.
   */
  get typedPage(): Database.Statement {
    this.typed ??= this.db
      .prepare(
        `SELECT "offset", CASE WHEN type_code IN (SELECT code FROM riverlog_event_types WHERE type IN (SELECT value FROM json_each(?))) THEN envelope END FROM ${this.table} WHERE "offset" >= ? ORDER BY "offset" LIMIT ?`,
      )
      .raw();
    return this.typed;
  }

  /** An INSERT of `rows` rows of `(offset, type_code, envelope)`. */
  insert(rows: number): Database.Statement {
    let statement = this.inserts.get(rows);
    if (statement === undefined) {
      statement = this.db.prepare(
        `INSERT INTO ${this.table} ("offset", type_code, envelope) VALUES ${Array(rows).fill('(?, ?, ?)').join(', ')}`,
      );
      this.inserts.set(rows, statement);
    }
    return statement;
  }
}

/** The partitions' tables of one connection. */
export class PartitionTables {
  private readonly statements: (PartitionStatements | undefined)[] = [];

  constructor(private readonly db: Database.Database) {}

  of(partition: number): PartitionStatements {
    let found = this.statements[partition];
    if (found === undefined) {
      found = new PartitionStatements(this.db, eventsTable(partition));
      this.statements[partition] = found;
    }
    return found;
  }
}
