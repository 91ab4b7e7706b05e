#!/usr/bin/env node
// dynalite (npm, MIT: a DynamoDB-compatible server on an in-memory LevelDB) run
// as a child process bound to 127.0.0.1, for riverlog's DynamoDB tests.
// dynalite's own CLI binds every interface, so this script is also the child:
// `serve` calls dynalite's API with the host given. Node built-ins + dynalite.
//
//   node test/infra/dynalite.mjs start   # start a detached server, print its endpoint
//   node test/infra/dynalite.mjs stop    # stop the server recorded in .cache/dynalite/run.json
//   node test/infra/dynalite.mjs serve [port]   # the child itself (foreground)

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, signal, sleep, waitForExit } from './processes.mjs';

const HERE = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(HERE), '..', '..');
const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'dynalite');
const RUN_FILE = path.join(CACHE_DIR, 'run.json');
const HOST = '127.0.0.1';

function unavailable(reason, cause) {
  const err = new Error(`dynalite unavailable: ${reason}`, cause ? { cause } : undefined);
  err.code = 'DYNALITE_UNAVAILABLE';
  return err;
}

// ---------------------------------------------------------------- the child

/**
 * Listens on HOST:port (0: a free one) and prints `{"port":N}` on stdout once
 * it accepts connections. With `exitWithParent`, exits when stdin closes (the
 * parent died, even by SIGKILL), so a crashed test run leaves no server.
 */
function serve(port, exitWithParent) {
  const require = createRequire(HERE);
  let dynalite;
  try {
    dynalite = require('dynalite');
  } catch (e) {
    console.error(`cannot load dynalite (${e.code ?? e.message}); run npm install`);
    process.exit(3);
  }
  // No artificial delays: tables are ACTIVE as soon as they are created.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  server.on('error', (e) => {
    console.error(`dynalite: ${e.message}`);
    process.exit(4);
  });
  server.listen(port, HOST, () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (exitWithParent) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
}

// ---------------------------------------------------------------- the parent

/** POSTs ListTables: resolves true when the server answers as DynamoDB does. */
export function pingDynamo(endpoint, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.request(
      `${endpoint}/`,
      {
        method: 'POST',
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          'x-amz-date': '20200101T000000Z',
        },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('TableNames')));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end('{}');
  });
}

// Servers started (not detached) by this process are killed if it exits without stopping them.
const live = new Set();
process.on('exit', () => {
  for (const pid of live) signal(pid, 'SIGKILL');
});

/**
 * Starts dynalite as a child process on 127.0.0.1 and waits until it answers
 * a ListTables call.
 *
 * @param {object} [opts]
 * @param {number} [opts.port] default: a free port, chosen by the server itself (no race).
 * @param {number} [opts.timeoutMs=30000] startup deadline.
 * @param {boolean} [opts.detached=false] keep running after this process exits (CLI).
 * @returns {Promise<{ endpoint: string, port: number, pid: number, exited: Promise<object>, stop(opts?): Promise<void> }>}
 */
export async function startDynalite(opts = {}) {
  const { port = 0, timeoutMs = 30_000, detached = false } = opts;
  const child = spawn(process.execPath, [HERE, 'serve', String(port), ...(detached ? [] : ['--exit-with-parent'])], {
    stdio: [detached ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached,
  });
  if (!child.pid) await new Promise((_, reject) => child.once('error', (e) => reject(unavailable(e.message, e))));
  let exitInfo = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, sig) => {
      exitInfo = { code, signal: sig };
      live.delete(child.pid);
      resolve(exitInfo);
    }),
  );
  if (!detached) live.add(child.pid);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const kill = async () => {
    signal(child.pid, 'SIGKILL');
    await waitForExit(child.pid, exited, 10_000);
  };

  let out = '';
  const listening = new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).port);
    });
  });
  let timer;
  const deadline = new Promise((r) => (timer = setTimeout(r, timeoutMs, 'timeout')));
  const got = await Promise.race([listening, exited.then(() => 'exit'), deadline]);
  clearTimeout(timer);
  if (got === 'exit' || got === 'timeout') {
    if (got === 'timeout') await kill();
    const how = got === 'timeout' ? `not listening within ${timeoutMs} ms` : `exited (code ${exitInfo.code}, signal ${exitInfo.signal})`;
    const err = new Error(`dynalite ${how}: ${stderr.trim() || '(no output)'}`);
    if (exitInfo?.code === 3) err.code = 'DYNALITE_UNAVAILABLE';
    throw err;
  }
  const endpoint = `http://${HOST}:${got}`;
  const until = Date.now() + timeoutMs;
  while (!(await pingDynamo(endpoint))) {
    if (exitInfo || Date.now() > until) {
      await kill();
      throw new Error(`dynalite at ${endpoint} does not answer ListTables: ${stderr.trim() || '(no output)'}`);
    }
    await sleep(50);
  }
  // Streams stay open only while someone reads them; the server must not wait on us.
  child.stdout.destroy();
  child.stderr.destroy();
  child.unref();
  return {
    endpoint,
    port: got,
    pid: child.pid,
    exited,
    /** SIGTERM, then SIGKILL after graceMs; waits for the exit. */
    stop: async ({ graceMs = 5_000 } = {}) => {
      if (exitInfo) return;
      signal(child.pid, 'SIGTERM');
      if (!(await waitForExit(child.pid, exited, graceMs))) await kill();
      child.stdin?.destroy();
    },
  };
}

// ---------------------------------------------------------------- CLI

async function cli(cmd, arg) {
  if (cmd === 'serve') return serve(Number(arg ?? 0), process.argv.includes('--exit-with-parent'));
  if (cmd === 'start') {
    if (existsSync(RUN_FILE)) {
      const prev = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
      if (isAlive(prev.pid)) {
        console.log(prev.endpoint);
        console.error(`already running (pid ${prev.pid}); stop it with: node test/infra/dynalite.mjs stop`);
        return;
      }
    }
    const t0 = Date.now();
    const h = await startDynalite({ detached: true, port: arg ? Number(arg) : 0 });
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(RUN_FILE, `${JSON.stringify({ pid: h.pid, endpoint: h.endpoint, port: h.port }, null, 2)}\n`);
    console.log(h.endpoint);
    console.error(`dynalite pid ${h.pid} ready in ${Date.now() - t0} ms (in memory: data is lost on stop)`);
    console.error(`use it with: RIVERLOG_DYNAMODB_ENDPOINT=${h.endpoint}`);
    return;
  }
  if (cmd === 'stop') {
    if (!existsSync(RUN_FILE)) return console.error('not running (no .cache/dynalite/run.json)');
    const info = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8');
    } catch {}
    // Only signal the PID if it is still our server (guards against PID reuse).
    if (isAlive(info.pid) && cmdline.includes('dynalite.mjs') && cmdline.includes('serve')) {
      signal(info.pid, 'SIGTERM');
      if (!(await waitForExit(info.pid, null, 5_000))) {
        signal(info.pid, 'SIGKILL');
        await waitForExit(info.pid, null, 5_000);
      }
      console.error(`stopped dynalite pid ${info.pid}`);
    } else {
      console.error(`dynalite pid ${info.pid} is not running`);
    }
    rmSync(RUN_FILE, { force: true });
    return;
  }
  console.error('usage: node test/infra/dynalite.mjs start [port] | stop | serve [port]');
  process.exitCode = 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === HERE) {
  cli(process.argv[2], process.argv[3]).catch((e) => {
    console.error(e.code === 'DYNALITE_UNAVAILABLE' ? e.message : e.stack);
    process.exitCode = 1;
  });
}
