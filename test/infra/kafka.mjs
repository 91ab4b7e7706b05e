#!/usr/bin/env node
// A real single-node Apache Kafka broker (KRaft, combined broker+controller),
// run as a plain `java` process for riverlog's integration tests.
// Node built-ins only. See test/infra/README.md.
//
//   node test/infra/kafka.mjs fetch   # download jars into .cache/kafka/libs
//   node test/infra/kafka.mjs start   # start a detached broker, print its address
//   node test/infra/kafka.mjs stop    # stop the broker recorded in .cache/kafka/run.json

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, signal, sleep, waitForExit } from './processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const POM = path.join(HERE, 'kafka', 'pom.xml');
const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'kafka');
const LIBS_DIR = path.join(CACHE_DIR, 'libs');
const STAMP_FILE = path.join(CACHE_DIR, 'libs.stamp');
const RUN_FILE = path.join(CACHE_DIR, 'run.json');
const HOST = '127.0.0.1';

const LOG4J2_PROPERTIES = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafkaconfig.name = org.apache.kafka.common.config.AbstractConfig
logger.kafkaconfig.level = WARN
`;

// ---------------------------------------------------------------- errors

function unavailable(reason, cause) {
  const err = new Error(`Kafka unavailable: ${reason}`, cause ? { cause } : undefined);
  err.code = 'KAFKA_UNAVAILABLE';
  return err;
}

function tail(text, lines = 50) {
  return text.split('\n').slice(-lines).join('\n');
}

/** The log's ERROR/FATAL lines (first 10) followed by its last `lines` lines. */
function logTail(logFile, lines = 50) {
  let text;
  try {
    text = readFileSync(logFile, 'utf8').trimEnd();
  } catch {
    return `(no log at ${logFile})`;
  }
  const errors = text
    .split('\n')
    .filter((l) => / (ERROR|FATAL) /.test(l))
    .slice(0, 10);
  const head = errors.length ? `error lines:\n${errors.join('\n')}\n` : '';
  return `${head}last ${lines} lines of ${logFile}:\n${tail(text, lines)}`;
}

/** Returns a function that reports whether log output written since the last call matches `re`. */
function logWatcher(logFile, re) {
  let offset = 0;
  let carry = '';
  return () => {
    let fd;
    try {
      fd = openSync(logFile, 'r');
      const buf = Buffer.alloc(1 << 16);
      for (let n = readSync(fd, buf, 0, buf.length, offset); n > 0; n = readSync(fd, buf, 0, buf.length, offset)) {
        offset += n;
        const chunk = carry + buf.toString('utf8', 0, n);
        if (re.test(chunk)) return true;
        carry = chunk.slice(-200);
      }
    } catch {
      // log not created yet
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return false;
  };
}

// ---------------------------------------------------------------- tools

function javaBin() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Throws KAFKA_UNAVAILABLE unless a Java >= 17 runtime is on PATH (or JAVA_HOME). */
function checkJava() {
  const r = spawnSync(javaBin(), ['-version'], { encoding: 'utf8' });
  if (r.error) throw unavailable(`cannot run '${javaBin()}' (${r.error.code ?? r.error.message}); install a Java 17+ runtime`, r.error);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : 0;
  if (major < 17) throw unavailable(`Kafka 4.x needs Java 17+, found: ${(r.stderr || r.stdout).split('\n')[0]}`);
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
}

// ---------------------------------------------------------------- jars

/**
 * Makes sure the broker's jars are in .cache/kafka/libs. Runs Maven only when
 * the libs dir is missing or test/infra/kafka/pom.xml changed since the last
 * fetch (sha256 stamp). Returns the libs dir.
 */
export async function ensureKafkaJars() {
  const hash = createHash('sha256').update(readFileSync(POM)).digest('hex');
  if (existsSync(LIBS_DIR) && existsSync(STAMP_FILE) && readFileSync(STAMP_FILE, 'utf8').trim() === hash) {
    return LIBS_DIR;
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${LIBS_DIR}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  let r;
  try {
    r = await run('mvn', ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], {
      cwd: path.dirname(POM),
    });
  } catch (e) {
    throw unavailable(`cannot run 'mvn' (${e.code ?? e.message}); install Maven 3.8+ to fetch the Kafka jars`, e);
  }
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw unavailable(`'mvn dependency:copy-dependencies' failed (exit ${r.code ?? r.signal}):\n${tail(r.out.trimEnd())}`);
  }
  rmSync(LIBS_DIR, { recursive: true, force: true });
  renameSync(tmp, LIBS_DIR);
  writeFileSync(STAMP_FILE, `${hash}\n`);
  return LIBS_DIR;
}

// ---------------------------------------------------------------- ports / protocol

/** Reserves `n` distinct free TCP ports on 127.0.0.1 (released before returning). */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, HOST, resolve);
      });
      servers.push(srv);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** Throws (with .addressInUse) if something already listens on 127.0.0.1:port. */
async function assertPortFree(port, what) {
  const srv = net.createServer();
  try {
    await new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, HOST, resolve);
    });
  } catch (e) {
    const err = new Error(`cannot start kafka: ${what} port ${HOST}:${port} is in use (${e.code})`);
    err.addressInUse = true;
    throw err;
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

/**
 * Sends a Kafka Metadata v4 request (no topics) over a raw socket and returns
 * { clusterId, controllerId, brokers: [{ nodeId, host, port }] }.
 * v4 is the newest non-"flexible" version, so no tagged fields / varints.
 */
export function kafkaMetadata(host, port, timeoutMs = 2000) {
  const clientId = Buffer.from('riverlog-test-infra');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api_key: Metadata
  o = body.writeInt16BE(4, o); // api_version
  o = body.writeInt32BE(1, o); // correlation_id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o); // topics: empty array = no topics
  body.writeInt8(0, o); // allow_auto_topic_creation = false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);

  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const fail = (e) => {
      sock.destroy();
      reject(e);
    };
    sock.setTimeout(timeoutMs, () => fail(new Error('metadata request timed out')));
    sock.on('error', fail);
    sock.on('close', () => reject(new Error('connection closed before a metadata response')));
    sock.on('connect', () => sock.write(Buffer.concat([size, body])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      sock.destroy();
      try {
        let p = 4;
        const int16 = () => {
          p += 2;
          return buf.readInt16BE(p - 2);
        };
        const int32 = () => {
          p += 4;
          return buf.readInt32BE(p - 4);
        };
        const str = () => {
          const len = int16();
          if (len < 0) return null;
          p += len;
          return buf.toString('utf8', p - len, p);
        };
        if (int32() !== 1) throw new Error('unexpected correlation id');
        int32(); // throttle_time_ms
        const brokers = [];
        for (let n = int32(); n > 0; n--) {
          const nodeId = int32();
          const h = str();
          const prt = int32();
          str(); // rack
          brokers.push({ nodeId, host: h, port: prt });
        }
        const clusterId = str();
        const controllerId = int32();
        resolve({ clusterId, controllerId, brokers });
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---------------------------------------------------------------- process helpers

// Brokers started (non-detached) by this Node process get SIGKILLed if we exit
// without stopping them, so a crashed test run does not leak JVMs.
const live = new Set();
process.on('exit', () => {
  for (const pid of live) signal(pid, 'SIGKILL');
});

// ---------------------------------------------------------------- broker

function serverProperties({ dataDir, port, controllerPort }) {
  return `# generated by test/infra/kafka.mjs
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=${HOST}:${controllerPort}
log.dirs=${dataDir}

# single node: every internal topic has one replica
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# test-friendly behaviour
auto.create.topics.enable=false
num.partitions=3
group.initial.rebalance.delay.ms=0
auto.leader.rebalance.enable=false
# After a SIGKILL the restarted broker is refused (DUPLICATE_BROKER_REGISTRATION)
# until the old registration's session expires (default 9 s); see restartKafka.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500

# small footprint
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
`;
}

function randomClusterId() {
  // Kafka UUIDs are 16 bytes, base64url without padding; avoid a leading '-'
  // (it would be parsed as a CLI flag) and the all-zero id.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA') return id;
  }
}

/**
 * Starts a broker and waits until it answers a Metadata request listing itself.
 *
 * @param {object} [opts]
 * @param {string} [opts.dataDir] Kafka log.dirs; also holds server.properties,
 *   log4j2.properties and kafka.log. Formatted unless it already has
 *   meta.properties. Default: a fresh temp dir, removed by stop().
 * @param {number} [opts.port] PLAINTEXT listener port (default: a free port).
 * @param {number} [opts.controllerPort] KRaft controller port (default: a free port).
 * @param {number} [opts.timeoutMs=90000] startup deadline.
 * @param {string} [opts.heap='512m'] -Xmx value.
 * @param {boolean} [opts.detached=false] keep running after this Node process exits (CLI).
 */
export async function startKafka(opts = {}) {
  checkJava();
  const libs = await ensureKafkaJars();
  const ownsDataDir = !opts.dataDir;
  const dataDir = path.resolve(opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'riverlog-kafka-')));
  // Auto-picked ports can be taken between picking and binding: retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch({ ...opts, dataDir, libs, ownsDataDir });
    } catch (e) {
      const retry = e.addressInUse && (opts.port == null || opts.controllerPort == null) && attempt < 3;
      if (!retry) {
        if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

async function launch({ dataDir, libs, ownsDataDir, timeoutMs = 90_000, heap = '512m', detached = false, ...opts }) {
  let { port, controllerPort } = opts;
  if (port == null || controllerPort == null) {
    const [a, b] = await freePorts(2);
    port ??= a === controllerPort ? b : a;
    controllerPort ??= b === port ? a : b;
  }
  await assertPortFree(port, 'listener');
  await assertPortFree(controllerPort, 'controller');
  mkdirSync(dataDir, { recursive: true });
  const configFile = path.join(dataDir, 'server.properties');
  const log4jFile = path.join(dataDir, 'log4j2.properties');
  const logFile = path.join(dataDir, 'kafka.log');
  writeFileSync(configFile, serverProperties({ dataDir, port, controllerPort }));
  writeFileSync(log4jFile, LOG4J2_PROPERTIES);
  const classpath = ['-cp', path.join(libs, '*')];
  const jvm = [`-Xmx${heap}`, '-Djava.awt.headless=true', '-Djava.net.preferIPv4Stack=true', `-Dlog4j2.configurationFile=${log4jFile}`];

  if (!existsSync(path.join(dataDir, 'meta.properties'))) {
    // short-lived JVM: C1-only JIT and serial GC start faster
    const fast = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
    const args = [
      ...jvm,
      ...fast,
      ...classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      randomClusterId(),
      '-c',
      configFile,
      '--standalone',
    ];
    const r = await run(javaBin(), args);
    if (r.code !== 0) throw new Error(`kafka storage format failed (exit ${r.code ?? r.signal}):\n${tail(r.out.trimEnd())}`);
  }

  const fd = openSync(logFile, 'a');
  const child = spawn(javaBin(), [...jvm, ...classpath, 'kafka.Kafka', configFile], {
    stdio: ['ignore', fd, fd],
    detached,
  });
  closeSync(fd);
  let exitInfo = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, sig) => {
      exitInfo = { code, signal: sig };
      live.delete(child.pid);
      resolve(exitInfo);
    }),
  );
  if (!child.pid) await new Promise((_, reject) => child.once('error', reject)); // e.g. ENOENT
  // Never keep the event loop alive just for the broker; a non-detached one is
  // SIGKILLed by the exit hook if the caller forgets stop().
  child.unref();
  if (!detached) live.add(child.pid);

  const handle = {
    brokers: [`${HOST}:${port}`],
    port,
    controllerPort,
    pid: child.pid,
    dataDir,
    logFile,
    configFile,
    /** resolves with { code, signal } when the JVM exits */
    exited,
    /** SIGTERM, then SIGKILL after graceMs; waits for exit. Removes an auto-created dataDir unless keepData. */
    stop: async ({ graceMs = 20_000, keepData = false } = {}) => {
      if (!exitInfo) {
        signal(child.pid, 'SIGTERM');
        if (!(await waitForExit(child.pid, exited, graceMs))) {
          signal(child.pid, 'SIGKILL');
          await waitForExit(child.pid, exited, 10_000);
        }
      }
      if (ownsDataDir && !keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  Object.defineProperty(handle, 'ownsDataDir', { value: ownsDataDir, enumerable: false });

  // Wait until the broker answers with its own registration (it is then
  // unfenced and ready for clients). Poll; no fixed sleeps.
  // A fatal startup error is followed by a slow (~7 s) shutdown: fail fast on it.
  const fatal = logWatcher(logFile, /Exiting Kafka due to fatal exception|Fatal error during (broker|controller) startup/);
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    if (exitInfo || fatal()) {
      const how = exitInfo ? `exit code ${exitInfo.code}, signal ${exitInfo.signal}` : 'fatal error logged; killed it';
      if (!exitInfo) {
        signal(child.pid, 'SIGKILL');
        await waitForExit(child.pid, exited, 10_000);
      }
      const log = logTail(logFile);
      const err = new Error(`kafka failed during startup (${how}); ${log}`);
      err.addressInUse = /Address already in use/.test(log);
      throw err;
    }
    try {
      const md = await kafkaMetadata(HOST, port, Math.max(250, Math.min(2000, deadline - Date.now())));
      if (md.brokers.some((b) => b.port === port)) return handle;
      lastError = new Error('broker not yet registered');
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      signal(child.pid, 'SIGKILL');
      await waitForExit(child.pid, exited, 10_000);
      throw new Error(`kafka did not become ready within ${timeoutMs} ms (${lastError?.message}); ${logTail(logFile)}`);
    }
    await Promise.race([sleep(100), exited]);
  }
}

/** Sends `sig` (default SIGKILL) to the broker's PID and waits until it is gone. */
export async function killKafka(handle, sig = 'SIGKILL') {
  signal(handle.pid, sig);
  if (!(await waitForExit(handle.pid, handle.exited, 30_000))) {
    throw new Error(`kafka pid ${handle.pid} still alive 30 s after ${sig}`);
  }
}

/**
 * Starts the broker again on the same dataDir and ports (no re-format).
 * Stops it gracefully first if it is still running. Returns a new handle
 * (which inherits the removal of an auto-created dataDir on stop()).
 */
export async function restartKafka(handle, opts = {}) {
  if (isAlive(handle.pid)) await handle.stop({ keepData: true });
  const libs = await ensureKafkaJars();
  return launch({
    ...opts,
    dataDir: handle.dataDir,
    port: handle.port,
    controllerPort: handle.controllerPort,
    libs,
    ownsDataDir: handle.ownsDataDir === true,
  });
}

// ---------------------------------------------------------------- CLI

async function cli(cmd) {
  if (cmd === 'fetch') {
    const t0 = Date.now();
    console.log(await ensureKafkaJars());
    console.error(`jars ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else if (cmd === 'start') {
    if (existsSync(RUN_FILE)) {
      const prev = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
      if (isAlive(prev.pid)) {
        console.log(prev.brokers.join(','));
        console.error(`already running (pid ${prev.pid}); stop it with: node test/infra/kafka.mjs stop`);
        return;
      }
    }
    mkdirSync(CACHE_DIR, { recursive: true });
    const dataDir = path.join(CACHE_DIR, 'data');
    rmSync(dataDir, { recursive: true, force: true });
    const t0 = Date.now();
    const h = await startKafka({ dataDir, detached: true });
    const info = {
      pid: h.pid,
      brokers: h.brokers,
      port: h.port,
      controllerPort: h.controllerPort,
      dataDir,
      logFile: h.logFile,
      configFile: h.configFile,
    };
    writeFileSync(RUN_FILE, `${JSON.stringify(info, null, 2)}\n`);
    console.log(h.brokers.join(','));
    console.error(`kafka pid ${h.pid} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; log: ${h.logFile}`);
    console.error(`use it with: RIVERLOG_KAFKA_BROKERS=${h.brokers.join(',')}`);
  } else if (cmd === 'stop') {
    if (!existsSync(RUN_FILE)) return console.error('not running (no .cache/kafka/run.json)');
    const info = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8');
    } catch {}
    // Only signal the PID if it is still the broker we started (guards against PID reuse).
    if (isAlive(info.pid) && cmdline.includes('kafka.Kafka') && cmdline.includes(info.configFile)) {
      signal(info.pid, 'SIGTERM');
      if (!(await waitForExit(info.pid, null, 20_000))) {
        signal(info.pid, 'SIGKILL');
        await waitForExit(info.pid, null, 10_000);
      }
      console.error(`stopped kafka pid ${info.pid}`);
    } else {
      console.error(`kafka pid ${info.pid} is not running`);
    }
    rmSync(RUN_FILE, { force: true });
    rmSync(info.dataDir, { recursive: true, force: true });
  } else {
    console.error('usage: node test/infra/kafka.mjs fetch|start|stop');
    process.exitCode = 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv[2]).catch((e) => {
    console.error(e.code === 'KAFKA_UNAVAILABLE' ? e.message : e.stack);
    process.exitCode = 1;
  });
}
