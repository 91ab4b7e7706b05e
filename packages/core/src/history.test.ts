import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as t from 'io-ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineCatalog, defineEvent } from './catalog.js';
import { createEvent } from './create-event.js';
import type { Envelope } from './envelope.js';
import { exportLog, HistoryExportError, HistoryImportError, importLog } from './history.js';
import { readEnds } from './lineage.js';
import { memoryLog } from './memory/memory-log.js';
import type { EventLog, LogRecord } from './ports.js';

const catalog = defineCatalog([
  defineEvent('product/create', { data: { id: t.string, name: t.string } }),
  defineEvent('product/purchase', { data: { id: t.string, quantity: t.number } }),
]);
const source = 'history-test';

function purchases(count: number, subjects: number): Envelope[] {
  return Array.from({ length: count }, (_, i) =>
    createEvent(catalog, 'product/purchase', `p${i % subjects}`, { id: `p${i % subjects}`, quantity: i }, { source }),
  );
}

async function readEvents(log: EventLog): Promise<Envelope[]> {
  const records: LogRecord[] = [];
  for await (const batch of log.read()) records.push(...batch.records);
  return records.map((r) => r.event as Envelope);
}

/** Each subject's quantities in log order. */
function bySubject(events: readonly Envelope[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const event of events) {
    const list = out[event.subject] ?? [];
    list.push((event.data as { quantity: number }).quantity);
    out[event.subject] = list;
  }
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'riverlog-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exportLog / importLog', () => {
  it('round-trips memory → file → memory: same events, per-subject order kept', async () => {
    const from = memoryLog({ partitions: 3 });
    const appended = purchases(1200, 9);
    await from.append(appended);
    const file = join(dir, 'history.jsonl');
    const exported = await exportLog(from, createWriteStream(file));
    expect(exported.events).toBe(1200);
    expect(exported.positions).toEqual(await readEnds(from, ['0', '1', '2'], {}));

    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(1200);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ specversion: '1.0', type: 'product/purchase' });

    const to = memoryLog({ partitions: 2 });
    const result = await importLog(to, createReadStream(file), { catalog, batchSize: 100 });
    expect(result).toEqual({ lines: 1200, appended: 1200, duplicates: 0 });
    const imported = await readEvents(to);
    expect(imported.map((e) => e.id).sort()).toEqual(appended.map((e) => e.id).sort());
    expect(imported.find((e) => e.id === appended[7]?.id)).toEqual(JSON.parse(JSON.stringify(appended[7])));
    expect(bySubject(imported)).toEqual(bySubject(appended));
  });

  it('importing the same file twice adds nothing the second time; ids repeated in a file are skipped', async () => {
    const from = memoryLog();
    await from.append(purchases(50, 5));
    const file = join(dir, 'history.jsonl');
    await exportLog(from, createWriteStream(file));
    const first = (await readFile(file, 'utf8')).split('\n')[0];
    await writeFile(file, `${first}\n`, { flag: 'a' });

    const to = memoryLog();
    expect(await importLog(to, createReadStream(file))).toEqual({ lines: 51, appended: 50, duplicates: 1 });
    await importLog(to, createReadStream(file));
    expect(await readEvents(to)).toHaveLength(50);
  });

  it('stops at a bad line, naming it: lines before it are imported, nothing from it on', async () => {
    const events = purchases(6, 2).map((e) => JSON.stringify(e));
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, `${events.slice(0, 3).join('\n')}\n\n{"specversion":"1.0","id":\n${events.slice(3).join('\n')}\n`);
    const to = memoryLog();
    const error = await importLog(to, createReadStream(file), { batchSize: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HistoryImportError);
    const importError = error as HistoryImportError;
    expect(importError.code).toBe('IMPORT_FAILED');
    expect(importError.line).toBe(5);
    expect(importError.imported).toBe(3);
    expect(importError.message).toContain('line 5: not JSON');
    expect(await readEvents(to)).toHaveLength(3);
  });

  it('names missing envelope fields, catalog failures and oversize events by line', async () => {
    const [good] = purchases(1, 1) as [Envelope];
    const cases: [string, RegExp][] = [
      [JSON.stringify({ ...good, subject: undefined }), /line 2: not a CloudEvents envelope \(subject: expected non-empty string/],
      [JSON.stringify({ ...good, data: { id: 'p0', quantity: 'many' } }), /line 2: event .*data\.quantity/],
      [JSON.stringify({ ...good, type: 'product/delete' }), /line 2: event .*unknown event type "product\/delete"/],
      ['[1,2]', /line 2: not a CloudEvents envelope/],
    ];
    for (const [line, message] of cases) {
      const input = PassThrough.from([`${JSON.stringify(purchases(1, 1)[0])}\n`, `${line}\n`]);
      await expect(importLog(memoryLog(), input, { catalog })).rejects.toThrow(message);
    }
    const small = memoryLog({ maxEventBytes: 200 });
    const big = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'x'.repeat(300) }, { source });
    await expect(importLog(small, [`${JSON.stringify(big)}\n`])).rejects.toThrow(
      /line 1: event .* bytes serialized, over the log's limit of 200/,
    );
  });

  it('a dry run checks every line and appends nothing', async () => {
    const events = purchases(4, 2).map((e) => JSON.stringify(e));
    const to = memoryLog();
    expect(await importLog(to, [`${events.join('\r\n')}\r\n`], { dryRun: true })).toEqual({ lines: 4, appended: 4, duplicates: 0 });
    await expect(importLog(to, [`${events[0]}\nnope\n`], { dryRun: true })).rejects.toMatchObject({ line: 2, imported: 0 });
    expect(await readEnds(to, ['0', '1', '2', '3'], {})).toEqual({});
  });

  it('reads lines split across chunks, multi-byte characters included, and a last line without newline', async () => {
    const event = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Crème brûlée 🍮' }, { source });
    const bytes = Buffer.from(`${JSON.stringify(event)}\n${JSON.stringify(purchases(1, 1)[0])}`);
    const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    const to = memoryLog();
    expect(await importLog(to, chunks)).toMatchObject({ lines: 2, appended: 2 });
    const created = (await readEvents(to)).find((e) => e.type === 'product/create');
    expect(created?.data).toEqual({ id: 'p1', name: 'Crème brûlée 🍮' });
  });

  it('exports only what is asked for, and resumes after the positions it returned', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(purchases(10, 4));
    await log.append([createEvent(catalog, 'product/create', 'p0', { id: 'p0', name: 'Boot' }, { source })]);
    const onlyCreates = new PassThrough();
    const text = readAllText(onlyCreates);
    const result = await exportLog(log, onlyCreates, { types: ['product/create'] });
    expect(result.events).toBe(1);
    expect(
      (await text)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(['product/create']);

    const all = await exportLog(log, new PassThrough().resume());
    await log.append(purchases(3, 3));
    const more = new PassThrough();
    const moreText = readAllText(more);
    expect((await exportLog(log, more, { from: { after: all.positions } })).events).toBe(3);
    expect((await moreText).trim().split('\n')).toHaveLength(3);
  });

  it('exports a resharded log parents first, so each subject keeps its order, and marks ended partitions', async () => {
    const log = memoryLog({ partitions: 2 });
    await log.append(purchases(40, 8));
    const [left] = await log.split('0');
    await log.append(purchases(40, 8).map((e, i) => ({ ...e, data: { id: e.subject, quantity: 100 + i } })));
    await log.merge(left?.id as string, '1');
    await log.append(purchases(40, 8).map((e, i) => ({ ...e, data: { id: e.subject, quantity: 200 + i } })));
    const out = new PassThrough();
    const text = readAllText(out);
    const result = await exportLog(log, out);
    expect(result.events).toBe(120);
    const exported = (await text)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Envelope);
    for (const quantities of Object.values(bySubject(exported))) {
      expect(quantities).toEqual([...quantities].sort((a, b) => a - b));
      expect(quantities).toHaveLength(15);
    }
    expect(result.positions).toMatchObject({ '0': 'end', '1': 'end', [left?.id as string]: 'end' });
  });

  it('refuses to export a record that is not an envelope, naming its position', async () => {
    const inner = memoryLog();
    await inner.append(purchases(2, 1));
    const foreign: EventLog = {
      ...inner,
      async *read() {
        yield {
          partition: '0',
          records: [{ position: { partition: '0', offset: '0' }, event: undefined, raw: 'garbage', error: 'not JSON' }],
          caughtUp: true,
          ended: false,
          lag: { records: 0 },
        };
      },
    };
    await expect(exportLog(foreign, new PassThrough().resume())).rejects.toThrow(HistoryExportError);
    await expect(exportLog(foreign, new PassThrough().resume())).rejects.toThrow(/partition 0, offset 0 is not an envelope \(not JSON\)/);
  });
});

async function readAllText(stream: PassThrough): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text;
}
