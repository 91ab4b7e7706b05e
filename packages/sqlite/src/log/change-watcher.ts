import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * After a file event, check again at these delays (ms): SQLite writes the WAL
 * frames (the file event) before it publishes the commit in the shared-memory
 * index (no file event), and with synchronous=FULL an fsync sits in between.
 */
const RECHECK_AFTER_EVENT_MS = [1, 3, 8, 20, 45, 100, 250];
/**
 * A slow poll while readers wait, in case a file event never comes: file
 * systems without inotify support (network mounts, some container and VM
 * shares), or an fsync slower than the re-check schedule above.
 */
export const SAFETY_POLL_MS = 500;
/** The poll when the directory cannot be watched at all. */
const FALLBACK_POLL_MS = 50;

/**
 * Notices commits made to a database file by other connections (other
 * processes) while readers wait, without a busy loop: it watches the file's
 * directory (inotify on Linux) and, on each event for the database or its
 * WAL, asks `changed()` (a cheap `PRAGMA data_version`) a few times.
 * It runs only while at least one reader holds it.
 */
export class ChangeWatcher {
  private users = 0;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private step = 0;
  private stopped = false;

  constructor(
    private readonly file: string,
    /** True when another connection committed since the last call. */
    private readonly changed: () => boolean,
    private readonly notify: () => void,
  ) {}

  /** A reader starts waiting for changes; the first one starts the watch. */
  acquire(): void {
    if (this.stopped) return;
    if (this.users++ === 0) this.start();
  }

  /** A reader stopped; the last one stops the watch. */
  release(): void {
    if (this.users === 0) return;
    if (--this.users === 0) this.halt();
  }

  /** Stops for good (the log closed). */
  stop(): void {
    this.stopped = true;
    this.users = 0;
    this.halt();
  }

  private start(): void {
    this.changed(); // take the current version as the baseline
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: true }, (_event, filename) => {
        if (filename === null || filename.startsWith(name)) this.onFileEvent();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
        this.startPoll(FALLBACK_POLL_MS);
      });
      this.startPoll(SAFETY_POLL_MS);
    } catch {
      this.startPoll(FALLBACK_POLL_MS);
    }
  }

  private startPoll(intervalMs: number): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = setInterval(() => this.check(), intervalMs);
  }

  private halt(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    if (this.recheck) clearTimeout(this.recheck);
    this.poll = undefined;
    this.recheck = undefined;
  }

  private onFileEvent(): void {
    this.check();
    if (this.recheck) clearTimeout(this.recheck);
    this.step = 0;
    this.recheck = setTimeout(this.onRecheck, RECHECK_AFTER_EVENT_MS[0]);
  }

  private readonly onRecheck = (): void => {
    this.recheck = undefined;
    this.check();
    const previous = RECHECK_AFTER_EVENT_MS[this.step] as number;
    const next = RECHECK_AFTER_EVENT_MS[++this.step];
    if (next !== undefined && this.users > 0) this.recheck = setTimeout(this.onRecheck, next - previous);
  };

  private check(): void {
    if (this.users === 0) return;
    if (this.changed()) this.notify();
  }
}
