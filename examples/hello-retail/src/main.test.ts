import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');

describe('npm start (dist/main.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hello-retail-main-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('plays the day on the SQLite log named by RIVERLOG_LOG, prints the views and a matching rebuild', () => {
    expect(existsSync(main), `${main} is missing: run \`npm run build\` first`).toBe(true);
    const run = spawnSync(process.execPath, [main], {
      env: { ...process.env, RIVERLOG_LOG: `sqlite:${join(dir, 'retail.db')}` },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = run.stdout;
    expect(out).toContain(`log:   sqlite:${join(dir, 'retail.db')}`);
    expect(out).toContain('↳ photo-assignment: Pia Park → p-boot');
    expect(out).toMatch(/↺ sent twice: \w+ stored once \(partition (\d+), offset (\d+); the second append returned offset \2\)/);
    expect(out).toContain('✗ refused, nothing written: Invalid "product/image" event: data.image: expected http(s) URL, got "tent.jpg"');
    expect(out).toMatch(/Raj Rao\s+\+15550100102\s+1\s+1\s+p-tent/);
    expect(out).toContain('top creator:      Ann Archer (6 points)');
    expect(out).toContain('top photographer: Pia Park (5 points)');
    expect(out).toContain('Dead letters: 0');
    expect(out).toMatch(/11 rows, identical to contributions@1 ✓/);
    expect(existsSync(join(dir, 'retail.db'))).toBe(true);
  });
});
