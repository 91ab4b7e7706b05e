import pc from 'picocolors';

/** Colours for one stream: on only for a terminal, never with NO_COLOR (or --no-color). */
export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Whether to colour a stream: a TTY, no `NO_COLOR` (any value but empty),
 * and not turned off on the command line. `FORCE_COLOR` turns it on (tests).
 */
export function colorEnabled(stream: NodeJS.WriteStream, flag: boolean | undefined): boolean {
  if (flag === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** What commands print to: data to stdout, messages to stderr, colours decided once. */
export interface Output {
  readonly json: boolean;
  readonly color: Colors;
  readonly errColor: Colors;
  readonly isTTY: boolean;
  /** A line of data (stdout). */
  line(text: string): void;
  /** One JSON document, on one line (stdout). */
  data(value: unknown): void;
  /** A message for the person (stderr). */
  note(text: string): void;
}

/**
 * Makes the output of one command run.
 *
 * @example
 * const out = makeOutput({ json: false, color: undefined });
 * out.line(out.color.green('ok'));
 */
export function makeOutput(options: { readonly json?: boolean; readonly color?: boolean }): Output {
  const color = pc.createColors(colorEnabled(process.stdout, options.color));
  const errColor = pc.createColors(colorEnabled(process.stderr, options.color));
  return {
    json: options.json === true,
    color,
    errColor,
    isTTY: process.stdout.isTTY === true,
    line: (text) => write(process.stdout, `${text}\n`),
    data: (value) => write(process.stdout, `${JSON.stringify(value)}\n`),
    note: (text) => void process.stderr.write(`${text}\n`),
  };
}

let pending: Promise<void> | undefined;

/** Writes, honouring back-pressure: a slow reader (a pipe to `head`) slows the command instead of filling memory. */
function write(stream: NodeJS.WriteStream, text: string): void {
  if (!stream.write(text) && !pending) {
    pending = new Promise((resolve) => stream.once('drain', () => resolve()));
    void pending.then(() => {
      pending = undefined;
    });
  }
}

/** Resolves once stdout has drained what was written (call it between batches of a long stream). */
export function drained(): Promise<void> {
  return pending ?? Promise.resolve();
}
