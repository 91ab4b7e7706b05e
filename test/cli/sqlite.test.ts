// tail, status, check, replay, export, import and the conventions, run as the real binary against a SQLite log.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent, type Envelope } from '@riverlog/core';
import { sqliteCheckpointStore, sqliteDeadLetters, sqliteLog } from '@riverlog/sqlite';
import { until } from '@riverlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog, v1 } from './fixtures/catalog-v2.mjs';
import { FIXTURES, jsonLines, riverlog, start, tempDir } from './support.js';

const CATALOG = join(FIXTURES, 'catalog-v2.mjs');
const tmp = tempDir();
const logPath = join(tmp.dir, 'shop.db');
const LOG = `sqlite:${logPath}`;

function events(): Envelope[] {
  const made: Envelope[] = [];
  for (let i = 1; i <= 5; i++)
    made.push(createEvent(v1, 'product/create', `p${i}`, { id: `p${i}`, title: `Old ${i}` }, { source: 'test/v1' }));
  for (let i = 6; i <= 8; i++)
    made.push(createEvent(catalog, 'product/create', `p${i}`, { id: `p${i}`, name: `New ${i}`, brand: 'Acme' }, { source: 'test/v2' }));
  for (let i = 1; i <= 8; i++) made.push(createEvent(catalog, 'product/purchase', `p${i}`, { id: `p${i}` }, { source: 'test/web' }));
  return made;
}

let written: Envelope[] = [];

beforeAll(async () => {
  const log = sqliteLog({ path: logPath, partitions: 3 });
  written = events();
  await log.append(written);
  await log.close();
});
afterAll(() => tmp.remove());

describe('conventions', () => {
  it('prints help with examples for every command and the exit codes', async () => {
    const root = await riverlog(['--help']);
    expect(root.code).toBe(0);
    expect(root.stdout).toContain('Exit codes:');
    const commands = ['tail', 'status', 'check', 'replay', 'export', 'import', 'dead-letters', 'views', 'lambda'];
    const helps = await Promise.all(commands.map((command) => riverlog([command, '--help'])));
    for (const [i, command] of commands.entries()) {
      expect(root.stdout).toContain(command);
      const help = helps[i] as Awaited<ReturnType<typeof riverlog>>;
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain('Examples:');
      expect(help.stdout, command).toContain(`$ riverlog ${command}`);
    }
  });

  it('exits 2 with one coded line on a usage error', async () => {
    const [unknown, noLog, memory] = await Promise.all([
      riverlog(['tail', '--bogus']),
      riverlog(['status'], { cwd: tmp.dir, env: { RIVERLOG_LOG: '' } }),
      riverlog(['status', '--log', 'memory:']),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/^riverlog: INVALID_OPTION: unknown option '--bogus'/);
    expect(noLog.code).toBe(2);
    expect(noLog.stderr).toMatch(/^riverlog: INVALID_OPTION: No log given/);
    expect(memory.code).toBe(2);
  });

  it('refuses a malformed --max-failures and --drop-previous without --rebuild (exit 2), instead of ignoring them', async () => {
    const [notNumber, negative, dropAlone] = await Promise.all([
      riverlog(['check', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--max-failures', 'abc']),
      riverlog(['check', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--max-failures=-1']),
      riverlog(['replay', '--log', LOG, '--view', 'tally', '--drop-previous']),
    ]);
    for (const ran of [notNumber, negative, dropAlone]) {
      expect(ran.code).toBe(2);
      expect(ran.stderr.trim().split('\n')).toHaveLength(1);
      expect(ran.stderr).toMatch(/^riverlog: INVALID_OPTION: /);
    }
    expect(notNumber.stderr).toContain('--max-failures');
    expect(dropAlone.stderr).toContain('--drop-previous goes with --rebuild');
  });

  it('exits 1 with the riverlog code when the log cannot be opened, and creates nothing', async () => {
    const missing = join(tmp.dir, 'missing.db');
    const ran = await riverlog(['status', '--log', `sqlite:${missing}`]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^riverlog: LOG_OPEN_FAILED: No log at /);
    expect(existsSync(missing)).toBe(false);
  });

  it('read-only commands refuse a missing store file with STORE_OPEN_FAILED (exit 1) and create nothing', async () => {
    const missing = (name: string) => join(tmp.dir, `missing-${name}.db`);
    const runs = await Promise.all([
      riverlog(['dead-letters', 'list', '--dead-letters', `sqlite:${missing('dl')}`]),
      riverlog(['dead-letters', 'show', '0:1', '--dead-letters', `sqlite:${missing('dl-show')}`]),
      riverlog(['views', 'list', '--store', `sqlite:${missing('views')}`]),
      riverlog(['status', '--log', LOG, '--checkpoints', `sqlite:${missing('checkpoints')}`, '--group', 'g']),
      riverlog(['status', '--log', LOG, '--store', `sqlite:${missing('status-views')}`]),
      riverlog(['status', '--log', LOG, '--dead-letters', `sqlite:${missing('status-dl')}`]),
      riverlog(['status', '--log', LOG, '--leases', `sqlite:${missing('leases')}`]),
    ]);
    for (const ran of runs) {
      expect(ran.code, ran.stderr).toBe(1);
      expect(ran.stderr.trim().split('\n')).toHaveLength(1);
      expect(ran.stderr).toMatch(/^riverlog: STORE_OPEN_FAILED: No .* store at .*missing-/);
    }
    for (const name of ['dl', 'dl-show', 'views', 'checkpoints', 'status-views', 'status-dl', 'leases'])
      expect(existsSync(missing(name)), name).toBe(false);
  });

  it('refuses a RIVERLOG_PROGRESS_MS that is not a whole number of milliseconds (exit 2, naming it)', async () => {
    const replay = (value: string) =>
      riverlog(['replay', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--handler', join(FIXTURES, 'count.mjs'), '--json'], {
        env: { RIVERLOG_PROGRESS_MS: value },
      });
    const [word, negative, empty] = await Promise.all([replay('soon'), replay('-5'), replay('')]);
    for (const ran of [word, negative]) {
      expect(ran.code).toBe(2);
      expect(ran.stderr.trim().split('\n')).toHaveLength(1);
      expect(ran.stderr).toMatch(/^riverlog: INVALID_OPTION: RIVERLOG_PROGRESS_MS /);
    }
    expect(word.stderr).toContain('"soon"');
    // Empty is unset: the default applies.
    expect(empty.code, empty.stderr).toBe(0);
  });

  it('colours only a terminal and never with NO_COLOR', async () => {
    const tail = ['tail', '--log', LOG, '--from', 'earliest', '--no-follow'];
    const [plain, forced, noColor] = await Promise.all([
      riverlog(tail),
      riverlog(tail, { env: { FORCE_COLOR: '1' } }),
      riverlog(tail, { env: { FORCE_COLOR: '1', NO_COLOR: '1' } }),
    ]);
    expect(plain.stdout).not.toContain('\u001b[');
    expect(forced.stdout).toContain('\u001b[');
    expect(noColor.stdout).not.toContain('\u001b[');
  });

  it('reads the log and catalog from a riverlog.config.json in the working directory', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dir = join(tmp.dir, 'project');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'riverlog.config.json'),
      JSON.stringify({ log: '../shop.db'.replace(/^/, 'sqlite:'), catalog: `${CATALOG}#catalog` }),
    );
    const ran = await riverlog(['check', '--json'], { cwd: dir });
    expect(ran.code).toBe(0);
    expect((JSON.parse(ran.stdout) as { records: number }).records).toBe(16);
  });
});

describe('tail', () => {
  it('prints one CloudEvent per line with --json, filtered by type and subject', async () => {
    const all = await riverlog(['tail', '--log', LOG, '--from', 'earliest', '--no-follow', '--json']);
    expect(all.code).toBe(0);
    const printed = jsonLines(all.stdout) as Envelope[];
    expect(printed).toHaveLength(16);
    expect(printed.map((e) => e.id).sort()).toEqual(written.map((e) => e.id).sort());
    expect(printed.every((e) => e.specversion === '1.0')).toBe(true);
    const filtered = await riverlog([
      'tail',
      '--log',
      LOG,
      '--from',
      'earliest',
      '--no-follow',
      '--json',
      '--type',
      'product/purchase',
      '--subject',
      'p2,p7',
    ]);
    expect((jsonLines(filtered.stdout) as Envelope[]).map((e) => `${e.type} ${e.subject}`).sort()).toEqual([
      'product/purchase p2',
      'product/purchase p7',
    ]);
    const lines = await riverlog(['tail', '--log', LOG, '--from', 'earliest', '--no-follow', '--limit', '3']);
    expect(lines.stdout.trim().split('\n')).toHaveLength(3);
    expect(lines.stdout).toMatch(/\d+:\d+ {2}product\/create {2}p\d/);
  });

  it('follows the log: events appended by another process show up, and SIGINT ends it with 0', async () => {
    const path = join(tmp.dir, 'follow.db');
    const log = sqliteLog({ path, partitions: 2 });
    await log.append([createEvent(catalog, 'product/purchase', 'a', { id: 'a' }, { source: 'test' })]);
    const tail = start(['tail', '--log', `sqlite:${path}`, '--json', '--type', 'product/purchase']);
    try {
      // Default start: the end of the log, so the event before is not shown. New events until the
      // child (still starting up) shows one.
      let sent = 0;
      await until(
        async () => {
          if (tail.lines.length === 0)
            await log.append([createEvent(catalog, 'product/purchase', `b${sent++}`, { id: 'b' }, { source: 'test' })]);
          return tail.lines.length > 0;
        },
        'the tail to show a first new event',
        30_000,
      );
      const shown = (tail.lines.map((l) => JSON.parse(l)) as Envelope[]).map((e) => e.subject);
      expect(shown).not.toContain('a');
      await log.append([createEvent(catalog, 'product/purchase', 'z', { id: 'z' }, { source: 'test' })]);
      await until(() => tail.lines.some((l) => (JSON.parse(l) as Envelope).subject === 'z'), 'the tail to show z', 20_000);
    } finally {
      expect(await tail.stop()).toBe(0);
      await log.close();
    }
  });
});

describe('check', () => {
  it('passes a log holding events of catalog v1 and v2 (upcast), counting versions per type', async () => {
    const ran = await riverlog(['check', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--json']);
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({ records: 16, valid: 16, failed: 0, ok: true, failures: [] });
    expect(report.types['product/create']).toEqual({ records: 8, versions: { '1': 5, '2': 3 }, failed: 0 });
    expect(report.types['product/purchase']).toEqual({ records: 8, versions: { '1': 8 }, failed: 0 });
    const text = await riverlog(['check', '--log', LOG, '--catalog', `${CATALOG}#catalog`]);
    expect(text.stdout).toContain('v1×5 v2×3');
    expect(text.stdout).toContain('16 valid, 0 failed');
  });

  it('fails with exit 1, the position and the field path of an event no version decodes', async () => {
    const path = join(tmp.dir, 'bad.db');
    const log = sqliteLog({ path, partitions: 1 });
    const good = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot', brand: 'Acme' }, { source: 'test' });
    // Written by a foreign producer: says version 1 but has neither title nor a string id.
    const bad = {
      ...createEvent(v1, 'product/create', 'p2', { id: 'p2', title: 'x' }, { source: 'test' }),
      data: { id: 42, name: 'Coat' },
    };
    const [, position] = await log.append([good, bad as Envelope]);
    await log.close();
    const ran = await riverlog(['check', '--log', `sqlite:${path}`, '--catalog', `${CATALOG}#catalog`, '--json']);
    expect(ran.code).toBe(1);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({ records: 2, valid: 1, failed: 1, ok: false });
    expect(report.failures).toHaveLength(1);
    const [failure] = report.failures;
    expect(failure).toMatchObject({
      at: `0:${position?.offset}`,
      position,
      type: 'product/create',
      version: 1,
      code: 'DECODE_FAILED',
      kind: 'invalid',
    });
    expect(failure.issues.map((i: { path: string }) => i.path).sort()).toEqual(['data.id', 'data.title']);
    const text = await riverlog(['check', '--log', `sqlite:${path}`, '--catalog', `${CATALOG}#catalog`]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`0:${position?.offset}`);
    expect(text.stdout).toContain('data.title');
  });

  it('checks a JSON Lines file, naming the line of a failure', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(tmp.dir, 'history.jsonl');
    const good = createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source: 'test' });
    writeFileSync(file, `${JSON.stringify(good)}\nnot json\n${JSON.stringify({ ...good, id: 'x2', data: {} })}\n`);
    const ran = await riverlog(['check', '--file', file, '--catalog', `${CATALOG}#catalog`, '--json']);
    expect(ran.code).toBe(1);
    const report = JSON.parse(ran.stdout);
    expect(report.failures.map((f: { at: string; kind: string }) => `${f.at} ${f.kind}`)).toEqual([
      'line 2 not-envelope',
      'line 3 invalid',
    ]);
    expect(report.failures[1].issues[0].path).toBe('data.id');
  });
});

describe('replay', () => {
  it('replays into a handler module, filtered, with a summary as JSON and plain progress lines off a terminal', async () => {
    const ran = await riverlog(
      ['replay', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--handler', join(FIXTURES, 'count.mjs'), '--json'],
      {
        env: { RIVERLOG_PROGRESS_MS: '0' },
      },
    );
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({
      records: 16,
      events: 16,
      skipped: 0,
      result: { events: 16, types: { 'product/create': 8, 'product/purchase': 8 } },
    });
    expect(ran.stderr).toMatch(/replayed 16 of 16 records/);
    const filtered = await riverlog([
      'replay',
      '--log',
      LOG,
      '--catalog',
      `${CATALOG}#catalog`,
      '--handler',
      join(FIXTURES, 'count.mjs'),
      '--json',
      '--type',
      'product/purchase',
      '--subject',
      'p1,p3',
    ]);
    expect(JSON.parse(filtered.stdout).result).toEqual({ events: 2, types: { 'product/purchase': 2 }, subjects: ['p1', 'p3'] });
  });

  it('picks the handler export as lambda does: the named one, else handler, default or the only function', async () => {
    const replay = (spec: string) => riverlog(['replay', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--handler', spec, '--json']);
    const [only, named, missing] = await Promise.all([
      replay(join(FIXTURES, 'on-event.mjs')),
      replay(`${join(FIXTURES, 'on-event.mjs')}#onEvent`),
      replay(`${join(FIXTURES, 'on-event.mjs')}#nothing`),
    ]);
    expect(only.code, only.stderr).toBe(0);
    expect(JSON.parse(only.stdout)).toMatchObject({ records: 16, events: 16 });
    expect(named.code, named.stderr).toBe(0);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^riverlog: INVALID_OPTION: handler module .*on-event\.mjs: its export "nothing" is missing/);
  });

  it('replays from a position to a position, and from a time', async () => {
    const tail = jsonLines(
      (await riverlog(['tail', '--log', LOG, '--from', 'earliest', '--no-follow', '--json', '--partition', '0'])).stdout,
    ) as Envelope[];
    const count = tail.length;
    expect(count).toBeGreaterThan(2);
    const replay = (...args: string[]) =>
      riverlog(['replay', '--log', LOG, '--catalog', `${CATALOG}#catalog`, '--handler', join(FIXTURES, 'count.mjs'), '--json', ...args]);
    const [ran, future, bad] = await Promise.all([
      replay('--from', '0:1', '--to', `0:${count - 2}`),
      replay('--from', '2999-01-01T00:00:00Z'),
      replay('--from', 'yesterday'),
    ]);
    expect(JSON.parse(ran.stdout).result.events).toBe(count - 2);
    expect(JSON.parse(future.stdout).result.events).toBe(0);
    expect(bad.code).toBe(2);
  });
});

describe('export and import', () => {
  it('round-trips the log through gzip JSON Lines; a second import adds nothing', async () => {
    const file = join(tmp.dir, 'history.jsonl.gz');
    const exported = await riverlog(['export', file, '--log', LOG, '--json']);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ events: 16, gzip: true });
    const copy = `sqlite:${join(tmp.dir, 'copy.db')}`;
    const first = await riverlog(['import', file, '--log', copy, '--catalog', `${CATALOG}#catalog`, '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ lines: 16, appended: 16, added: 16, alreadyPresent: 0 });
    const second = await riverlog(['import', file, '--log', copy, '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ lines: 16, added: 0, alreadyPresent: 16 });
    const original = jsonLines((await riverlog(['export', '-', '--log', LOG])).stdout) as Envelope[];
    const copied = jsonLines((await riverlog(['export', '-', '--log', copy])).stdout) as Envelope[];
    expect(copied.map((e) => e.id).sort()).toEqual(original.map((e) => e.id).sort());
  });

  it('stops an import at a bad line with IMPORT_FAILED naming it', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = join(tmp.dir, 'broken.jsonl');
    const good = createEvent(catalog, 'product/purchase', 'p1', { id: 'p1' }, { source: 'test' });
    writeFileSync(file, `${JSON.stringify(good)}\n{"no":"envelope"}\n`);
    const partial = join(tmp.dir, 'broken.db');
    const ran = await riverlog(['import', file, '--log', `sqlite:${partial}`]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/riverlog: IMPORT_FAILED: .*line 2/);
    // Line 1 was imported (as the message says): the log it made stays.
    expect(jsonLines((await riverlog(['export', '-', '--log', `sqlite:${partial}`])).stdout)).toHaveLength(1);
  });

  it('leaves no log file behind when a failed import created it and imported nothing, and never removes one that was there', async () => {
    const { writeFileSync } = await import('node:fs');
    const bad = join(tmp.dir, 'bad-first.jsonl');
    writeFileSync(bad, '{"no":"envelope"}\n');
    const existing = join(tmp.dir, 'existing.db');
    await sqliteLog({ path: existing }).close();
    const [created, intoExisting, noInput] = await Promise.all([
      riverlog(['import', bad, '--log', `sqlite:${join(tmp.dir, 'created.db')}`]),
      riverlog(['import', bad, '--log', `sqlite:${existing}`]),
      riverlog(['import', join(tmp.dir, 'no-such.jsonl'), '--log', `sqlite:${join(tmp.dir, 'never.db')}`]),
    ]);
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(/^riverlog: IMPORT_FAILED: .*line 1/);
    expect(existsSync(join(tmp.dir, 'created.db'))).toBe(false);
    expect(intoExisting.code).toBe(1);
    expect(existsSync(existing)).toBe(true);
    expect(noInput.code).toBe(1);
    expect(existsSync(join(tmp.dir, 'never.db'))).toBe(false);
  });
});

describe('status', () => {
  it('shows partitions, lag per consumer group, and dead-letter counts as JSON', async () => {
    const stores = join(tmp.dir, 'stores.db');
    const checkpoints = sqliteCheckpointStore({ path: stores });
    await checkpoints.save('emailer', { '0': '0' });
    await checkpoints.close();
    const deadLetters = sqliteDeadLetters({ path: stores });
    await deadLetters.send([
      {
        group: 'emailer',
        record: { position: { partition: '1', offset: '0' }, event: undefined, raw: 'x', error: 'bad' },
        code: 'DECODE_FAILED',
        reason: 'bad',
        attempts: 1,
        at: new Date().toISOString(),
      },
    ]);
    await deadLetters.close();
    const ran = await riverlog([
      'status',
      '--log',
      LOG,
      '--checkpoints',
      `sqlite:${stores}`,
      '--dead-letters',
      `sqlite:${stores}`,
      '--group',
      'emailer',
      '--json',
    ]);
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.stdout);
    const total = report.log.partitions.reduce((sum: number, p: { records: number }) => sum + p.records, 0);
    expect(total).toBe(16);
    expect(report.log.partitions.map((p: { id: string; parents: string[]; closed: boolean }) => [p.id, p.parents, p.closed])).toEqual([
      ['0', [], false],
      ['1', [], false],
      ['2', [], false],
    ]);
    const [group] = report.groups;
    expect(group.group).toBe('emailer');
    expect(group.lag).toEqual({ records: total - 1 });
    expect(group.partitions[0]).toEqual({ partition: '0', checkpoint: '0', lag: { records: report.log.partitions[0].records - 1 } });
    expect(report.deadLetters).toEqual({ total: 1, byGroup: { emailer: 1 } });
  });

  it('refreshes with --watch until interrupted', async () => {
    const watch = start(['status', '--log', LOG, '--watch', '1', '--json']);
    await until(() => watch.lines.length >= 2, 'two refreshes', 20_000);
    expect(await watch.stop()).toBe(0);
    expect(JSON.parse(watch.lines[0] as string).log.partitions).toHaveLength(3);
  });
});
