import type { DeadLetter, DeadLetterSink, Position } from '@riverlog/core';
import { openStoreConnection, type SqliteSource } from '../connection.js';

/** `_v2`: one letter per group and position; a pre-release file's `riverlog_dead_letters` is left alone. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS riverlog_dead_letters_v2 (
  seq INTEGER PRIMARY KEY,
  group_name TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  record_offset TEXT NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  at TEXT NOT NULL,
  record TEXT NOT NULL,           -- the LogRecord as JSON
  UNIQUE (group_name, partition_id, record_offset)
);
CREATE INDEX IF NOT EXISTS riverlog_dead_letters_v2_group ON riverlog_dead_letters_v2 (group_name, seq);
`;
/** A dead-letter sink in SQLite that can also list what it holds. */
export interface SqliteDeadLetters extends DeadLetterSink {
  /** The dead letters in the order they were sent, of one group or of all. */
  list(group?: string): Promise<DeadLetter[]>;
  /**
   * Removes the group's letters at these positions (a retry that succeeded,
   * a purge); resolves with how many were removed. Positions without a letter are ignored.
   */
  remove(group: string, positions: readonly Position[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * Dead letters in an SQLite table (`riverlog_dead_letters_v2`): each `send`
 * is one transaction and resolves once the letters are committed. A letter
 * sent again for the same group and position (a retry) is kept once: the
 * first one stays.
 *
 * @example
 * import { sqliteDeadLetters } from '@riverlog/sqlite';
 *
 * const deadLetters = sqliteDeadLetters({ path: 'data/retail.db' });
 * // hand it to a consumer; later:
 * for (const letter of await deadLetters.list('emailer')) console.log(letter.code, letter.reason, letter.record.position);
 */
export function sqliteDeadLetters(source: SqliteSource): SqliteDeadLetters {
  const connection = openStoreConnection(source, 'sqliteDeadLetters', SCHEMA);
  const { db } = connection;
  const insert = db.prepare(
    'INSERT INTO riverlog_dead_letters_v2 (group_name, partition_id, record_offset, code, reason, attempts, at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const columns = 'group_name, code, reason, attempts, at, record';
  const ofGroup = db.prepare(`SELECT ${columns} FROM riverlog_dead_letters_v2 WHERE group_name = ? ORDER BY seq`).raw();
  const all = db.prepare(`SELECT ${columns} FROM riverlog_dead_letters_v2 ORDER BY seq`).raw();
  const deleteOne = db.prepare('DELETE FROM riverlog_dead_letters_v2 WHERE group_name = ? AND partition_id = ? AND record_offset = ?');
  const removeAll = db.transaction((group: string, positions: readonly Position[]) => {
    let removed = 0;
    for (const { partition, offset } of positions) removed += deleteOne.run(group, partition, offset).changes;
    return removed;
  });
  const sendAll = db.transaction((letters: readonly DeadLetter[]) => {
    for (const letter of letters) {
      const { position } = letter.record;
      insert.run(
        letter.group,
        position.partition,
        position.offset,
        letter.code,
        letter.reason,
        letter.attempts,
        letter.at,
        JSON.stringify(letter.record),
      );
    }
  });
  return {
    async send(letters) {
      connection.ensureOpen();
      if (letters.length > 0) await connection.write(() => sendAll.immediate(letters));
    },
    async list(group) {
      connection.ensureOpen();
      const rows = (group === undefined ? all.all() : ofGroup.all(group)) as [string, string, string, number, string, string][];
      return rows.map(([groupName, code, reason, attempts, at, record]) => ({
        group: groupName,
        record: JSON.parse(record),
        code,
        reason,
        attempts,
        at,
      }));
    },
    async remove(group, positions) {
      connection.ensureOpen();
      return positions.length === 0 ? 0 : await connection.write(() => removeAll.immediate(group, positions));
    },
    async close() {
      connection.close();
    },
  };
}
