import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A child process running a fixture script, with its stdout as lines. */
export interface Child {
  readonly process: ChildProcess;
  /** Every complete line printed so far. */
  readonly lines: string[];
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line matching, rejects after `timeoutMs` or if the process exits first. */
  line(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  readonly stderr: () => string;
}

/** Starts `test/fixtures/<script>` with this Node, as a user's program would run. */
export function startChild(script: string, args: readonly string[]): Child {
  const path = fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let stderr = '';
  let done = false;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() as string;
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      for (const wake of waiters) wake();
      resolve({ code, signal });
    });
  });
  return {
    process: child,
    lines,
    exited,
    stderr: () => stderr,
    line(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no matching line from ${script} within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        const check = () => {
          const found = lines.find(match);
          if (found !== undefined) finish(undefined, found);
          else if (done) finish(new Error(`${script} exited before printing the line; stderr: ${stderr}`));
        };
        function finish(error?: Error, found?: string) {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(found as string);
        }
        waiters.add(check);
        check();
      });
    },
  };
}
