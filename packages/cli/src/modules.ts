import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Catalog } from '@riverlog/core';
import type { AnyView } from '@riverlog/view-builder';
import { UsageError } from './errors.js';

// The user's modules: a catalog, views, handlers. A module is named by a
// path, optionally with `#export` (`./dist/catalog.js#retailCatalog`); paths
// are relative to the config file that names them, or to the working directory.

/** A module path and the export asked for. */
export function splitSpec(spec: string): { path: string; name: string | undefined } {
  const hash = spec.lastIndexOf('#');
  return hash > 0 ? { path: spec.slice(0, hash), name: spec.slice(hash + 1) } : { path: spec, name: undefined };
}

/**
 * Imports a user's module. A `.ts` module cannot be imported by plain Node 20:
 * the error says to compile it, or to run riverlog under a TypeScript loader.
 */
export async function importUserModule(path: string, base: string, what: string): Promise<Record<string, unknown>> {
  const file = isAbsolute(path) ? path : resolve(base, path);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(file)) {
      throw new UsageError(
        `${what} ${file} is TypeScript, which Node cannot import as it is: compile it (tsc) and name the .js file, ` +
          `or run riverlog under a loader: NODE_OPTIONS="--import tsx" riverlog …`,
      );
    }
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(file)) {
      throw new UsageError(`${what} ${file} does not exist (check --${what.split(' ')[0]} or the config file).`);
    }
    throw new UsageError(`${what} ${file} could not be loaded: ${(error as Error).message}`, { cause: error });
  }
}

export function isCatalog(value: unknown): value is Catalog {
  const v = value as Partial<Catalog> | null;
  return (
    typeof v === 'object' && v !== null && typeof v.decode === 'function' && Array.isArray(v.types) && typeof v.dataschema === 'function'
  );
}

export function isView(value: unknown): value is AnyView {
  const v = value as Partial<AnyView> | null;
  return typeof v === 'object' && v !== null && typeof v.table === 'string' && typeof v.version === 'number' && typeof v.fold === 'object';
}

/** The one export of a module that `test` accepts: the named one, else `preferred`, `default`, or the only match. */
function pick<T>(
  module: Record<string, unknown>,
  name: string | undefined,
  preferred: string,
  test: (v: unknown) => v is T,
  what: string,
  file: string,
): T {
  if (name !== undefined) {
    const value = module[name];
    if (!test(value))
      throw new UsageError(`${what} ${file}: its export ${JSON.stringify(name)} is ${value === undefined ? 'missing' : `not a ${what}`}.`);
    return value;
  }
  for (const key of [preferred, 'default']) if (test(module[key])) return module[key] as T;
  const found = Object.entries(module).filter(([, value]) => test(value));
  if (found.length === 1) return (found[0] as [string, T])[1];
  throw new UsageError(
    found.length === 0
      ? `${what} ${file} exports no ${what}; export one as ${JSON.stringify(preferred)} or default.`
      : `${what} ${file} exports several (${found.map(([k]) => k).join(', ')}); name one: ${file}#${found[0]?.[0]}.`,
  );
}

/**
 * Loads the catalog a spec names: a module exporting it as `catalog`,
 * `default`, the only catalog it exports, or `#name`.
 *
 * @example
 * const catalog = await loadCatalog('./dist/catalog.js#retailCatalog', process.cwd());
 */
export async function loadCatalog(spec: string | Catalog, base: string): Promise<Catalog> {
  if (typeof spec !== 'string') {
    if (!isCatalog(spec))
      throw new UsageError('The config file\'s "catalog" is neither a module path nor a catalog made with defineCatalog.');
    return spec;
  }
  const { path, name } = splitSpec(spec);
  return pick(await importUserModule(path, base, 'catalog'), name, 'catalog', isCatalog, 'catalog', path);
}

/**
 * Loads views: every view a module exports (arrays of views included), or
 * the export `#name` (a view or an array of views).
 */
export async function loadViews(specs: readonly (string | AnyView)[], base: string): Promise<AnyView[]> {
  const views: AnyView[] = [];
  const add = (value: unknown) => {
    if (isView(value)) views.push(value);
    else if (Array.isArray(value)) for (const item of value) add(item);
  };
  for (const spec of specs) {
    if (typeof spec !== 'string') {
      add(spec);
      continue;
    }
    const { path, name } = splitSpec(spec);
    const module = await importUserModule(path, base, 'views module');
    if (name !== undefined) {
      if (module[name] === undefined) throw new UsageError(`views module ${path} has no export ${JSON.stringify(name)}.`);
      add(module[name]);
    } else {
      for (const value of Object.values(module)) add(value);
    }
  }
  // One entry per table: a module may export a view and an array holding it.
  return [...new Map(views.map((view) => [view.table, view])).values()];
}

/**
 * Loads a function export: the named one, else `handler`, `default` or the only function.
 *
 * @example
 * const count = await loadFunction('./count.mjs', process.cwd(), 'handler', 'handler module');
 */
export async function loadFunction<F extends (...args: never[]) => unknown>(
  spec: string,
  base: string,
  preferred: string,
  what: string,
): Promise<F> {
  const { path, name } = splitSpec(spec);
  const isFunction = (v: unknown): v is F => typeof v === 'function';
  return pick(await importUserModule(path, base, what), name, preferred, isFunction, what, path);
}

/** Loads a handler map (`{ 'type': fn | ignore }`): the export `handlers`, `default`, or `#name`. */
export async function loadHandlerMap(spec: string, base: string): Promise<Record<string, unknown>> {
  const { path, name } = splitSpec(spec);
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).some((h) => typeof h === 'function');
  return pick(await importUserModule(path, base, 'handlers module'), name, 'handlers', isMap, 'handlers module', path);
}
