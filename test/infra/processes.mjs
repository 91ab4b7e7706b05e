// Process helpers shared by the engine scripts (kafka.mjs, kinesis.mjs, dynalite.mjs): they stop
// only the processes they started, by PID, and wait for them to be gone.
import { readFileSync } from 'node:fs';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True while `pid` runs. An exited but unreaped child (a zombie) still answers kill(pid, 0): read /proc. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(pid, 0)
  }
}

/** Sends `name` to `pid`; a process already gone is not an error. */
export function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

/**
 * Resolves true once `pid` has exited (through `exited`, the child's exit promise, when this process
 * spawned it; by polling otherwise), false after `timeoutMs`.
 */
export async function waitForExit(pid, exited, timeoutMs) {
  if (exited) {
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
    const done = await Promise.race([exited.then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}
