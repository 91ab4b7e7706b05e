import { createRequire } from 'node:module';
import { UsageError } from './errors.js';
import type { Output } from './output.js';

/** Progress of a long command: a bar on a terminal, plain lines otherwise (stderr either way: stdout stays data). */
export interface Progress {
  /** How many units are done (and, when it became known, how many in all). */
  update(done: number, total?: number): void;
  /** Ends the bar, or prints the last line. */
  stop(): void;
}

/**
 * A bar with rate and ETA when stderr is a terminal (cli-progress); else one
 * line every few seconds (`RIVERLOG_PROGRESS_MS`, default 2000) and one at the
 * end, e.g. `replayed 120,000 of 1,000,000 records (45,000/s, ETA 20 s)`.
 *
 * @example
 * const progress = makeProgress(out, 'replayed', total);
 * progress.update(done);
 * progress.stop();
 */
export function makeProgress(out: Output, verb: string, total: number | undefined, unit = 'records'): Progress {
  const every = progressEveryMs();
  const started = performance.now();
  let done = 0;
  let all = total;
  const rate = () => done / Math.max(0.001, (performance.now() - started) / 1000);
  if (process.stderr.isTTY) {
    const c = out.errColor;
    // Loaded only for a terminal: off one, plain lines need no library.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    const bar = new cliProgress.SingleBar(
      {
        format:
          all === undefined
            ? `${verb} {value} ${unit} | {rate}/s | {duration_formatted}`
            : `${c.cyan('{bar}')} {percentage}% | ${verb} {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(all ?? 0, 0, { rate: '0' });
    return {
      update(value, newTotal) {
        done = value;
        if (newTotal !== undefined && newTotal !== all) {
          all = newTotal;
          bar.setTotal(newTotal);
        }
        bar.update(value, { rate: Math.round(rate()).toLocaleString('en-US') });
      },
      stop() {
        bar.update(done, { rate: Math.round(rate()).toLocaleString('en-US') });
        bar.stop();
      },
    };
  }
  let last = started;
  const line = (final: boolean) => {
    const r = rate();
    const of = all === undefined ? '' : ` of ${all.toLocaleString('en-US')}`;
    const eta = !final && all !== undefined && r > 0 ? `, ETA ${Math.max(0, Math.round((all - done) / r))} s` : '';
    const elapsed = final ? ` in ${((performance.now() - started) / 1000).toFixed(1)} s` : '';
    out.note(`${verb} ${done.toLocaleString('en-US')}${of} ${unit}${elapsed} (${Math.round(r).toLocaleString('en-US')}/s${eta})`);
  };
  return {
    update(value, newTotal) {
      done = value;
      if (newTotal !== undefined) all = newTotal;
      const now = performance.now();
      if (now - last >= every) {
        last = now;
        line(false);
      }
    },
    stop() {
      line(true);
    },
  };
}

/** How often plain progress lines are printed: `RIVERLOG_PROGRESS_MS` (empty or unset: 2000). */
function progressEveryMs(): number {
  const text = process.env.RIVERLOG_PROGRESS_MS;
  if (text === undefined || text === '') return 2000;
  if (!/^\d+$/.test(text))
    throw new UsageError(
      `RIVERLOG_PROGRESS_MS ${JSON.stringify(text)}: expected a whole number of milliseconds ≥ 0 (e.g. 2000), or unset it.`,
    );
  return Number(text);
}
