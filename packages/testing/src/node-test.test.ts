import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'node-test.fixture.mjs');
// A resolve hook that refuses vitest: proves the kit loads without it.
const noVitest = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
   register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, next) { if (s === "vitest" || s.startsWith("vitest/")) throw new Error("vitest was imported"); return next(s, c); }'));`,
)}`;

function nodeTest(env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', noVitest, '--test', '--test-reporter=tap', fixture], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env, NODE_OPTIONS: '' },
  });
}

describe('the kit under node --test', () => {
  it('runs view and handler specs without vitest, and passes', () => {
    const run = nodeTest();
    expect(run.stdout).toMatch(/# pass 2\n# fail 0/);
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it('fails the test, with the spec’s message, when a view is not idempotent', () => {
    const run = nodeTest({ KIT_ID_WINDOW: '0' });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/# pass 1\n# fail 1/);
    expect(run.stdout).toContain('viewSpec(counts@1): the view is not idempotent');
    expect(run.stdout).toContain('.count: expected 2, got 4');
  });
});
