import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Catalog, CheckpointStore, EventLog, LeaseStore } from '@riverlog/core';
import type { AnyView } from '@riverlog/view-builder';
import {
  absoluteUri,
  type DeadLetterStore,
  type ListableViewStore,
  LOG_URIS,
  type OpenStoreOptions,
  openCheckpointsUri,
  openDeadLettersUri,
  openLeasesUri,
  openLogUri,
  openViewStoreUri,
  STORE_URIS,
} from './addresses.js';
import { UsageError } from './errors.js';
import { importUserModule, loadCatalog, loadViews } from './modules.js';

/**
 * What a `riverlog.config.{js,mjs,json}` holds. Strings are URIs (`log`,
 * stores) or module paths (`catalog`, `views`, handler modules), relative to
 * the config file's directory. A JavaScript config may give objects instead
 * (a catalog, views, an opened log or store).
 *
 * @example
 * // riverlog.config.json
 * { "log": "sqlite:./retail.db", "catalog": "./dist/catalog.js#retailCatalog",
 *   "store": "sqlite:./views.db", "checkpoints": "sqlite:./views.db", "deadLetters": "sqlite:./views.db",
 *   "views": ["./dist/services.js#retailViews"], "groups": ["photo-assignment"] }
 */
export interface RiverlogConfig {
  readonly log?: string | EventLog;
  readonly catalog?: string | Catalog;
  /** The view store. */
  readonly store?: string | ListableViewStore;
  readonly checkpoints?: string | CheckpointStore;
  readonly deadLetters?: string | DeadLetterStore;
  readonly leases?: string | LeaseStore;
  /** Modules exporting views (each export that is a view or an array of views), or views. */
  readonly views?: string | readonly (string | AnyView)[];
  /** Consumer groups to show in `status`. */
  readonly groups?: readonly string[];
  /** Per consumer group, the module of its handler map (for `dead-letters retry`). */
  readonly handlers?: Readonly<Record<string, string>>;
}

/** The options every command takes. */
export interface GlobalOptions {
  readonly log?: string;
  readonly catalog?: string;
  readonly config?: string;
  readonly store?: string;
  readonly checkpoints?: string;
  readonly deadLetters?: string;
  readonly leases?: string;
  readonly views?: readonly string[];
  readonly group?: readonly string[];
  readonly json?: boolean;
  readonly color?: boolean;
}

export const CONFIG_NAMES = ['riverlog.config.js', 'riverlog.config.mjs', 'riverlog.config.json'];
const CONFIG_KEYS = ['log', 'catalog', 'store', 'checkpoints', 'deadLetters', 'leases', 'views', 'groups', 'handlers'];

/** Finds and reads the config file: `--config`, else the first of {@link CONFIG_NAMES} in the working directory. */
export async function readConfig(path: string | undefined, cwd: string): Promise<{ config: RiverlogConfig; dir: string; file?: string }> {
  const file = path !== undefined ? resolve(cwd, path) : CONFIG_NAMES.map((name) => resolve(cwd, name)).find((f) => existsSync(f));
  if (file === undefined) return { config: {}, dir: cwd };
  if (!existsSync(file)) throw new UsageError(`Config file ${file} does not exist.`);
  let config: unknown;
  if (file.endsWith('.json')) {
    try {
      config = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`Config file ${file} is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    const module = await importUserModule(file, cwd, 'config file');
    config = module.default ?? module.config;
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new UsageError(`Config file ${file} must hold an object (a JavaScript config exports it as default).`);
  }
  const unknown = Object.keys(config).filter((key) => !CONFIG_KEYS.includes(key));
  if (unknown.length > 0)
    throw new UsageError(
      `Config file ${file}: unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}; known: ${CONFIG_KEYS.join(', ')}.`,
    );
  return { config: config as RiverlogConfig, dir: dirname(file), file };
}

interface Closable {
  close(): Promise<void>;
}

/**
 * What a command works on, from its options and the config file, opened on
 * first use and closed by {@link Context.close}: flags win over
 * `RIVERLOG_LOG` (for the log), which wins over the config file.
 */
export class Context {
  private readonly opened: Closable[] = [];
  private readonly cache = new Map<string, Promise<unknown>>();

  constructor(
    readonly options: GlobalOptions,
    readonly config: RiverlogConfig,
    /** Where the config's relative paths start. */
    readonly configDir: string,
    readonly cwd: string,
  ) {}

  static async create(options: GlobalOptions, cwd = process.cwd()): Promise<Context> {
    const { config, dir } = await readConfig(options.config, cwd);
    return new Context(options, config, dir, cwd);
  }

  /** The setting's value and the directory its relative paths start from. */
  private setting<T>(flag: T | undefined, configured: T | undefined): { value: T; base: string } | undefined {
    if (flag !== undefined) return { value: flag, base: this.cwd };
    if (configured !== undefined) return { value: configured, base: this.configDir };
    return undefined;
  }

  private once<T>(key: string, open: () => Promise<T>): Promise<T> {
    let value = this.cache.get(key) as Promise<T> | undefined;
    if (!value) {
      value = open().then((opened) => {
        if (opened && typeof (opened as Partial<Closable>).close === 'function') this.opened.push(opened as unknown as Closable);
        return opened;
      });
      this.cache.set(key, value);
    }
    return value;
  }

  /** The log's URI as given (relative `sqlite:` paths made absolute), or undefined. */
  logUri(): string | undefined {
    const s = this.setting(
      this.options.log ?? (process.env.RIVERLOG_LOG || undefined),
      typeof this.config.log === 'string' ? this.config.log : undefined,
    );
    return s ? absoluteUri(s.value, s.base) : undefined;
  }

  hasLog(): boolean {
    return this.logUri() !== undefined || (typeof this.config.log === 'object' && this.config.log !== null);
  }

  /** The log; `create` only for import (a missing SQLite file is otherwise an error). */
  log(options: { readonly create?: boolean } = {}): Promise<EventLog> {
    return this.once('log', async () => {
      const uri = this.logUri();
      if (uri !== undefined) return openLogUri(uri, this.cwd, options);
      if (typeof this.config.log === 'object' && this.config.log !== null) return this.config.log;
      throw new UsageError(`No log given: pass --log <uri> (${LOG_URIS}), set RIVERLOG_LOG, or name "log" in riverlog.config.json.`);
    });
  }

  hasCatalog(): boolean {
    return this.options.catalog !== undefined || this.config.catalog !== undefined;
  }

  catalog(): Promise<Catalog> {
    return this.once('catalog', async () => {
      const s = this.setting<string | Catalog>(this.options.catalog, this.config.catalog);
      if (!s)
        throw new UsageError(
          'No catalog given: pass --catalog <module>[#export] (a JavaScript module exporting a catalog) or name "catalog" in riverlog.config.json.',
        );
      return loadCatalog(s.value, s.base);
    });
  }

  private store<T>(
    key: string,
    flag: string | undefined,
    configured: string | T | undefined,
    open: (uri: string, base: string, options: OpenStoreOptions) => Promise<T>,
    options: OpenStoreOptions,
  ): Promise<T | undefined> {
    return this.once(key, async () => {
      const s = this.setting<string | T>(flag, configured);
      if (!s) return undefined;
      return typeof s.value === 'string' ? open(s.value, s.base, options) : s.value;
    }).then((store) => store) as Promise<T | undefined>;
  }

  private required<T>(value: Promise<T | undefined>, flag: string, key: string, what: string): Promise<T> {
    return value.then((store) => {
      if (store === undefined)
        throw new UsageError(`No ${what} given: pass --${flag} <uri> (${STORE_URIS}) or name "${key}" in riverlog.config.json.`);
      return store;
    });
  }

  // Stores: a missing `sqlite:` file is an error unless `create` is set (only commands that write pass it).
  viewStore(options: OpenStoreOptions = {}): Promise<ListableViewStore | undefined> {
    return this.store('store', this.options.store, this.config.store, openViewStoreUri, options);
  }
  requireViewStore(options: OpenStoreOptions = {}): Promise<ListableViewStore> {
    return this.required(this.viewStore(options), 'store', 'store', 'view store');
  }
  checkpoints(options: OpenStoreOptions = {}): Promise<CheckpointStore | undefined> {
    return this.store('checkpoints', this.options.checkpoints, this.config.checkpoints, openCheckpointsUri, options);
  }
  requireCheckpoints(options: OpenStoreOptions = {}): Promise<CheckpointStore> {
    return this.required(this.checkpoints(options), 'checkpoints', 'checkpoints', 'checkpoint store');
  }
  deadLetters(options: OpenStoreOptions = {}): Promise<DeadLetterStore | undefined> {
    return this.store('deadLetters', this.options.deadLetters, this.config.deadLetters, openDeadLettersUri, options);
  }
  requireDeadLetters(options: OpenStoreOptions = {}): Promise<DeadLetterStore> {
    return this.required(this.deadLetters(options), 'dead-letters', 'deadLetters', 'dead-letter store');
  }
  leases(options: OpenStoreOptions = {}): Promise<LeaseStore | undefined> {
    return this.store('leases', this.options.leases, this.config.leases, openLeasesUri, options);
  }

  /** The views of `--views` modules, else the config's. */
  views(): Promise<AnyView[]> {
    return this.once('views', async () => {
      const configured =
        this.config.views === undefined ? undefined : typeof this.config.views === 'string' ? [this.config.views] : this.config.views;
      const s = this.setting<readonly (string | AnyView)[]>(
        this.options.views && this.options.views.length > 0 ? this.options.views : undefined,
        configured,
      );
      return s ? loadViews(s.value, s.base) : [];
    });
  }

  /** The consumer groups named by `--group` or the config's `groups`. */
  groups(): string[] {
    return [...(this.options.group ?? []), ...(this.options.group?.length ? [] : (this.config.groups ?? []))];
  }

  /** The handler module configured for a group, with the directory it is relative to. */
  handlersOf(group: string): { spec: string; base: string } | undefined {
    const spec = this.config.handlers?.[group];
    return spec === undefined ? undefined : { spec, base: this.configDir };
  }

  /** Closes what was opened (stores first, then the log). */
  async close(): Promise<void> {
    const log = this.cache.get('log');
    const all = [...this.opened].reverse();
    const logObject = log ? await log.catch(() => undefined) : undefined;
    const rest = all.filter((c) => c !== logObject);
    await Promise.all(rest.map((c) => c.close().catch(() => undefined)));
    if (logObject && all.includes(logObject as Closable)) await (logObject as Closable).close().catch(() => undefined);
  }
}
