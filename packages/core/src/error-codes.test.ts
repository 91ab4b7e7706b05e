// One list of error codes: what the sources throw, the RiverlogErrorCode union and the README's table agree.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRiverlogErrorCode, RIVERLOG_ERROR_CODES } from './error-codes.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sources(): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !/\.test(-d)?\.ts$/.test(name)) files.push({ path, text: readFileSync(path, 'utf8') });
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    try {
      if (statSync(src).isDirectory()) walk(src);
    } catch {
      // a package without sources yet
    }
  }
  return files;
}

/** Codes thrown literally: `new RiverlogError('X'` or `super('X'` (a subclass), across lines. */
function thrownCodes(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const { path, text } of sources()) {
    for (const match of text.matchAll(/(?:new\s+RiverlogError|super)\(\s*'([A-Z][A-Z0-9_]*)'/g)) {
      codes.set(match[1] as string, path.slice(root.length));
    }
  }
  return codes;
}

/** The README's error table: rows of `| \`CODE\` | meaning |` under "## Errors". */
function readmeCodes(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Errors'));
  const end = section.indexOf('\n## ', 1);
  const rows = (end < 0 ? section : section.slice(0, end)).split('\n').filter((line) => line.startsWith('| `'));
  return rows.map((row) => /^\| `([A-Z0-9_]+)` \|\s*\S/.exec(row)?.[1] ?? `(malformed row: ${row})`);
}

describe('error codes', () => {
  const listed = new Set<string>(RIVERLOG_ERROR_CODES);

  it('every code the packages throw is in RIVERLOG_ERROR_CODES (the RiverlogErrorCode union)', () => {
    const thrown = thrownCodes();
    expect(thrown.size).toBeGreaterThan(20);
    const missing = [...thrown].filter(([code]) => !listed.has(code)).map(([code, path]) => `${code} (${path})`);
    expect(missing, 'add these to core/src/error-codes.ts and the README table').toEqual([]);
  });

  it('every listed code is still used somewhere in the sources', () => {
    const text = sources()
      .filter(({ path }) => !path.endsWith('error-codes.ts'))
      .map(({ text }) => text)
      .join('\n');
    const unused = RIVERLOG_ERROR_CODES.filter((code) => !text.includes(`'${code}'`));
    expect(unused, 'remove these from core/src/error-codes.ts and the README table').toEqual([]);
  });

  it('the README lists every code once, with its meaning, and nothing else', () => {
    const rows = readmeCodes();
    const duplicates = rows.filter((code, i) => rows.indexOf(code) !== i);
    expect(duplicates).toEqual([]);
    expect([...rows].sort()).toEqual([...RIVERLOG_ERROR_CODES].sort());
  });

  it('lists each code once and tells codes apart from other strings', () => {
    expect(listed.size).toBe(RIVERLOG_ERROR_CODES.length);
    expect(isRiverlogErrorCode('LEASE_LOST')).toBe(true);
    expect(isRiverlogErrorCode('READ_FAILED_SOMEHOW')).toBe(false);
    expect(isRiverlogErrorCode(42)).toBe(false);
  });
});
