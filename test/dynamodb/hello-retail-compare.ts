// The Hello Retail demo (examples/hello-retail, built) run with its views in
// DynamoDB, then the same views folded on SQLite from the same log: the two
// must hold the same rows, table by table. Shared by the SQLite-log and the
// Kafka-log tests.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteTableCommand, ListTablesCommand, type ListTablesCommandOutput } from '@aws-sdk/client-dynamodb';
import { type EventLog, ulid, type ViewStore } from '@riverlog/core';
import { dynamoViewStore } from '@riverlog/dynamodb';
import { sqliteViewStore } from '@riverlog/sqlite';
import { type AnyView, rebuildView, runView } from '@riverlog/view-builder';
import { expect } from 'vitest';
import { allRows } from '../../examples/hello-retail/dist/rows.js';
import { retailViews } from '../../examples/hello-retail/dist/services.js';
import { defineWinnerView } from '../../examples/hello-retail/dist/winner.js';
import { dynamoClient, endpoint } from './support.js';

const main = fileURLToPath(new URL('../../examples/hello-retail/dist/main.js', import.meta.url));

/** Runs the demo's main.js with `env` on top of this process's environment. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/**
 * Plays the day with `RIVERLOG_LOG=logUri` and `RIVERLOG_STORE=dynamodb://…`,
 * folds every view (and the rebuilt winner version) on SQLite from the log
 * `openLog()` opens, and expects each table's rows equal, row by row.
 */
export async function playOnDynamoAndCompare(logUri: string, openLog: () => EventLog): Promise<void> {
  const prefix = `hr${ulid().toLowerCase()}.`;
  const host = new URL(endpoint as string).host;
  const dir = await mkdtemp(join(tmpdir(), 'riverlog-hello-retail-dynamo-'));
  const client = dynamoClient();
  let dynamo: ViewStore | undefined;
  let sqlite: ViewStore | undefined;
  let log: EventLog | undefined;
  try {
    const { code, output } = await runMain({ RIVERLOG_LOG: logUri, RIVERLOG_STORE: `dynamodb://${host}?prefix=${prefix}` });
    expect(output).toContain(`views: dynamodb://${host}?prefix=${prefix}`);
    expect(output).toContain('Winners');
    expect(output).toContain('Dead letters: 0');
    expect(output).toMatch(/identical to contributions@1 ✓/);
    expect(code, output).toBe(0);

    log = openLog();
    dynamo = dynamoViewStore({ client, prefix });
    sqlite = sqliteViewStore({ path: join(dir, 'views.db') });
    const views: AnyView[] = [...retailViews];
    for (const view of views) {
      const runner = runView(view, { log, store: sqlite });
      await runner.caughtUp({ timeoutMs: 60_000 });
      await runner.stop();
    }
    const rebuilt = defineWinnerView(2);
    await rebuildView(rebuilt, { log, store: sqlite });
    let rows = 0;
    for (const view of [...views, rebuilt]) {
      const onSqlite = await allRows(sqlite, view, view.table);
      const onDynamo = await allRows(dynamo, view, view.table);
      expect(onSqlite.length, view.table).toBeGreaterThan(0);
      expect(onDynamo, view.table).toEqual(onSqlite);
      rows += onSqlite.length;
    }
    expect(rows).toBeGreaterThan(20);
  } finally {
    await dynamo?.close();
    await sqlite?.close();
    await log?.close();
    let start: string | undefined;
    do {
      const page: ListTablesCommandOutput = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      for (const TableName of page.TableNames ?? []) {
        if (TableName.startsWith(prefix)) await client.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
      }
      start = page.LastEvaluatedTableName;
    } while (start);
    client.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
