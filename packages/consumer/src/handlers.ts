import { type Catalog, ignore, RiverlogError } from '@riverlog/core';

/**
 * Checks at run time what TypeScript checks at compile time, for callers
 * from JavaScript: a function or `ignore` for every catalog type, nothing else.
 */
export function validateHandlers(catalog: Catalog, handlers: Readonly<Record<string, unknown>>, where: string): void {
  if (typeof handlers !== 'object' || handlers === null) {
    throw new RiverlogError('INVALID_OPTION', `${where}: handlers must be an object with a handler or ignore per event type.`);
  }
  const missing = catalog.types.filter((type) => !(type in handlers));
  if (missing.length > 0) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `${where}: handlers has no entry for ${missing.map((type) => JSON.stringify(type)).join(', ')}; give each catalog type a handler or \`ignore\`.`,
    );
  }
  for (const [type, handler] of Object.entries(handlers)) {
    if (!catalog.has(type)) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: handlers has an entry for ${JSON.stringify(type)}, which the catalog does not define (it defines ${catalog.types.join(', ')}).`,
      );
    }
    if (typeof handler !== 'function' && handler !== ignore) {
      throw new RiverlogError(
        'INVALID_OPTION',
        `${where}: handlers[${JSON.stringify(type)}] must be a function or \`ignore\`, got ${typeof handler}.`,
      );
    }
  }
}
