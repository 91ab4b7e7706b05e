#!/usr/bin/env node
// Kinesis emulators for riverlog's integration tests, each a child process
// bound to 127.0.0.1 on a free port and stopped by its PID:
//
// - kinesalite (npm): fast, in memory; no throttling, no fan-out, no ChildShards.
// - kinesis-local (npm, a single-file build of kinesis-mock): faithful (ShardFilter,
//   ChildShards, StreamARN, UpdateShardCount, stream consumers) but slow. Its server
//   listens on 0.0.0.0, hard-coded: we run a copy of its main.js with that host string
//   replaced by 127.0.0.1, cached under .cache/kinesis-local/ (git-ignored).
//
// Node built-ins only. See packages/kinesis/README.md ("Engines tested").
//
//   node test/infra/kinesis.mjs start [kinesalite|kinesis-local]   # detached; prints the endpoint
//   node test/infra/kinesis.mjs stop                               # stops what .cache/kinesis/run.json names

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, signal, sleep, waitForExit } from './processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const CACHE_DIR = path.join(REPO_ROOT, '.cache');
const RUN_FILE = path.join(CACHE_DIR, 'kinesis', 'run.json');
const HOST = '127.0.0.1';
const require = createRequire(path.join(REPO_ROOT, 'package.json'));

function unavailable(reason, cause) {
  const error = new Error(`Kinesis emulator unavailable: ${reason}`, cause ? { cause } : undefined);
  error.code = 'KINESIS_UNAVAILABLE';
  return error;
}

/** A free TCP port on 127.0.0.1 (released before returning). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves true when something answers HTTP on the port (any status: unsigned requests are refused, which is fine). */
function answers(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: HOST,
        port,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' },
        timeout: timeoutMs,
      },
      (response) => {
        response.resume();
        resolve(true);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end('{}');
  });
}

// Emulators started (not detached) by this process are killed if it exits without stopping them.
const live = new Set();
process.on('exit', () => {
  for (const pid of live) signal(pid, 'SIGKILL');
});

/** Spawns `node args` with output to `logFile`, waits until the port answers HTTP; returns the handle. */
async function launch({ name, args, env, port, logFile, timeoutMs, detached, cwd = REPO_ROOT, graceMs: defaultGraceMs = 5_000 }) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], detached });
  closeSync(fd);
  let exitInfo = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, sig) => {
      exitInfo = { code, signal: sig };
      live.delete(child.pid);
      resolve(exitInfo);
    }),
  );
  if (!child.pid) await new Promise((_, reject) => child.once('error', reject));
  child.unref();
  if (!detached) live.add(child.pid);
  const handle = {
    name,
    endpoint: `http://${HOST}:${port}`,
    port,
    pid: child.pid,
    logFile,
    exited,
    /** SIGTERM, SIGKILL after graceMs; waits for the exit. */
    async stop({ graceMs = defaultGraceMs } = {}) {
      if (exitInfo) return;
      signal(child.pid, 'SIGTERM');
      if (!(await waitForExit(child.pid, exited, graceMs))) {
        signal(child.pid, 'SIGKILL');
        await waitForExit(child.pid, exited, 5_000);
      }
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '(no log)';
      throw new Error(
        `${name} exited during startup (code ${exitInfo.code}, signal ${exitInfo.signal}); last lines of ${logFile}:\n${log}`,
      );
    }
    if (await answers(port)) return handle;
    if (Date.now() >= deadline) {
      await handle.stop({ graceMs: 1_000 });
      throw new Error(`${name} did not answer on ${HOST}:${port} within ${timeoutMs} ms; see ${logFile}`);
    }
    await Promise.race([sleep(50), exited]);
  }
}

/**
 * Starts kinesalite in memory, in a child process, on 127.0.0.1.
 *
 * @param {object} [options]
 * @param {number} [options.port] default: a free port
 * @param {number} [options.createStreamMs=0] kinesalite's simulated delays (CREATING, DELETING, UPDATING)
 * @param {number} [options.shardLimit=1000]
 * @param {boolean} [options.detached=false]
 * @returns {Promise<{ name, endpoint, port, pid, logFile, exited, stop }>}
 */
export async function startKinesalite(options = {}) {
  try {
    require.resolve('kinesalite');
  } catch (error) {
    throw unavailable('the kinesalite package is not installed (npm install)', error);
  }
  const port = options.port ?? (await freePort());
  const settings = {
    createStreamMs: options.createStreamMs ?? 0,
    deleteStreamMs: options.deleteStreamMs ?? 0,
    updateStreamMs: options.updateStreamMs ?? 0,
    shardLimit: options.shardLimit ?? 1000,
  };
  // Its CLI binds every interface: listen from code instead.
  const program = `require('kinesalite')(${JSON.stringify(settings)}).listen(${port}, '${HOST}', (error) => { if (error) { console.error(error); process.exit(1); } console.log('kinesalite listening on ${HOST}:${port}'); });`;
  return launch({
    name: 'kinesalite',
    args: ['-e', program],
    env: {},
    port,
    logFile: path.join(os.tmpdir(), `riverlog-kinesalite-${port}.log`),
    timeoutMs: options.timeoutMs ?? 20_000,
    detached: options.detached ?? false,
  });
}

/** kinesis-local's main.js with its hard-coded "0.0.0.0" replaced by "127.0.0.1", cached by the original's hash. */
export function loopbackKinesisLocal() {
  let original;
  try {
    original = require.resolve('kinesis-local/main.js');
  } catch (error) {
    throw unavailable('the kinesis-local package is not installed (npm install)', error);
  }
  const source = readFileSync(original, 'utf8');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(CACHE_DIR, 'kinesis-local');
  const copy = path.join(dir, `main-${hash}.cjs`);
  // It reads its TLS key pair from server.json in its working directory.
  const keys = path.join(dir, 'server.json');
  if (!existsSync(keys)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(keys, readFileSync(path.join(path.dirname(original), 'server.json')));
  }
  if (existsSync(copy)) return copy;
  const hits = source.split('"0.0.0.0"').length - 1;
  if (hits !== 1) throw unavailable(`kinesis-local's main.js names "0.0.0.0" ${hits} times, expected once: cannot bind it to loopback`);
  mkdirSync(dir, { recursive: true });
  const temporary = `${copy}.tmp-${process.pid}`;
  writeFileSync(temporary, source.replace('"0.0.0.0"', `"${HOST}"`));
  renameSync(temporary, copy);
  return copy;
}

/**
 * Starts kinesis-local (kinesis-mock) in a child process on 127.0.0.1: plain HTTP on
 * `port`, TLS on another free port.
 *
 * @param {object} [options]
 * @param {number} [options.port] default: a free port
 * @param {string} [options.durations='10ms'] CREATE_STREAM_DURATION and the other simulated delays
 * @param {boolean} [options.detached=false]
 */
export async function startKinesisLocal(options = {}) {
  const main = loopbackKinesisLocal();
  const port = options.port ?? (await freePort());
  let tlsPort = await freePort();
  while (tlsPort === port) tlsPort = await freePort();
  const duration = options.durations ?? '10ms';
  const env = {
    KINESIS_MOCK_PLAIN_PORT: String(port),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    LOG_LEVEL: 'WARN',
    ROOT_LOG_LEVEL: 'ERROR',
    SHARD_LIMIT: '1000',
    AWS_REGION: 'us-east-1',
  };
  for (const name of [
    'CREATE_STREAM_DURATION',
    'DELETE_STREAM_DURATION',
    'REGISTER_STREAM_CONSUMER_DURATION',
    'DEREGISTER_STREAM_CONSUMER_DURATION',
    'START_STREAM_ENCRYPTION_DURATION',
    'STOP_STREAM_ENCRYPTION_DURATION',
    'MERGE_SHARDS_DURATION',
    'SPLIT_SHARD_DURATION',
    'UPDATE_SHARD_COUNT_DURATION',
    'UPDATE_STREAM_MODE_DURATION',
  ]) {
    env[name] = duration;
  }
  const handle = await launch({
    name: 'kinesis-local',
    args: [main],
    env,
    cwd: path.dirname(main),
    // It keeps everything in memory and ignores SIGTERM: a short grace, then SIGKILL.
    graceMs: 200,
    port,
    logFile: path.join(os.tmpdir(), `riverlog-kinesis-local-${port}.log`),
    timeoutMs: options.timeoutMs ?? 60_000,
    detached: options.detached ?? false,
  });
  return { ...handle, tlsPort, region: 'us-east-1' };
}

// ---------------------------------------------------------------- CLI

async function cli(command, which = 'kinesalite') {
  if (command === 'start') {
    if (existsSync(RUN_FILE)) {
      const previous = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
      if (isAlive(previous.pid)) {
        console.log(previous.endpoint);
        console.error(`already running (pid ${previous.pid}); stop it with: node test/infra/kinesis.mjs stop`);
        return;
      }
    }
    const start = which === 'kinesis-local' ? startKinesisLocal : which === 'kinesalite' ? startKinesalite : undefined;
    if (!start) throw new Error(`unknown emulator ${which}: kinesalite or kinesis-local`);
    const started = Date.now();
    const handle = await start({ detached: true });
    mkdirSync(path.dirname(RUN_FILE), { recursive: true });
    writeFileSync(
      RUN_FILE,
      `${JSON.stringify({ name: handle.name, pid: handle.pid, endpoint: handle.endpoint, logFile: handle.logFile }, null, 2)}\n`,
    );
    console.log(handle.endpoint);
    console.error(`${handle.name} pid ${handle.pid} ready in ${((Date.now() - started) / 1000).toFixed(1)} s; log: ${handle.logFile}`);
    console.error(`use it with: RIVERLOG_KINESIS_ENDPOINT=${handle.endpoint}`);
  } else if (command === 'stop') {
    if (!existsSync(RUN_FILE)) return console.error('not running (no .cache/kinesis/run.json)');
    const info = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
    let commandLine = '';
    try {
      commandLine = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8');
    } catch {}
    // Only the PID we started, still running the emulator (guards against PID reuse).
    if (isAlive(info.pid) && /kinesalite|kinesis-local/.test(commandLine)) {
      signal(info.pid, 'SIGTERM');
      if (!(await waitForExit(info.pid, null, 5_000))) {
        signal(info.pid, 'SIGKILL');
        await waitForExit(info.pid, null, 5_000);
      }
      console.error(`stopped ${info.name} pid ${info.pid}`);
    } else {
      console.error(`${info.name} pid ${info.pid} is not running`);
    }
    rmSync(RUN_FILE, { force: true });
  } else {
    console.error('usage: node test/infra/kinesis.mjs start [kinesalite|kinesis-local] | stop');
    process.exitCode = 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv[2], process.argv[3]).catch((error) => {
    console.error(error.code === 'KINESIS_UNAVAILABLE' ? error.message : error.stack);
    process.exitCode = 1;
  });
}
