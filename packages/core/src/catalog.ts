import * as t from 'io-ts';
import * as E from './either.js';
import { type Envelope, EnvelopeCodec, type StoredEvent } from './envelope.js';
import { DecodeError, RiverlogError, UnknownEventTypeError } from './errors.js';
import { describeIssues, isIdentityCodec, preview, readingContext, type StrictC, strict, toIssues } from './issues.js';
import { checkOptions } from './options.js';
import type { LogRecord } from './ports.js';
import type { Position } from './position.js';
import { isoNow, isValidTime } from './time-text.js';

/** An older version of an event's payload, with the step that turns it into the next version. */
export interface PastVersion {
  readonly version: number;
  readonly codec: t.Mixed;
  readonly upcast: (data: never) => unknown;
}

/**
 * One event type: its name, its current version and payload codec, the
 * versions before it, and the names it was stored under before a rename.
 */
export interface EventDefinition<Type extends string = string, Data = unknown, Wire = Data> {
  readonly type: Type;
  readonly version: number;
  readonly codec: t.Type<Data, Wire, unknown>;
  /** Older versions, oldest first. */
  readonly history: readonly PastVersion[];
  /** Names events of this type carried before it was renamed: read as this type (see docs/evolution.md). */
  readonly renamedFrom: readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: the widest definition, used only as a constraint
export type AnyEventDefinition = EventDefinition<string, any, any>;

/**
 * An older version of a payload and how to upcast it to the next one.
 *
 * @example
 * const v1 = pastVersion(1, strict({ id: t.string, title: t.string }), (d) => ({ id: d.id, name: d.title }));
 */
export function pastVersion<C extends t.Mixed>(version: number, codec: C, upcast: (data: t.TypeOf<C>) => unknown): PastVersion {
  return { version, codec, upcast: upcast as (data: never) => unknown };
}

type DataSpec = t.Mixed | t.Props;
type CodecOf<S> = S extends t.Props ? StrictC<S> : S;

/**
 * Defines an event type. `data` is an io-ts codec, or a plain object of
 * field codecs, which becomes a `strict` codec: producers are refused unknown
 * fields, readers drop them. `renamedFrom` lists names the type was stored
 * under before (events stored under them are read as this type).
 *
 * @example
 * const ProductCreated = defineEvent('product/create', {
 *   version: 2,
 *   data: { id: t.string, name: t.string, brand: t.string, color: optional(t.string) },
 *   history: [pastVersion(1, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown' }))],
 * });
 */
export function defineEvent<Type extends string, S extends DataSpec>(
  type: Type,
  spec: {
    readonly data: S;
    readonly version?: number;
    readonly history?: readonly PastVersion[];
    readonly renamedFrom?: readonly string[];
  },
): EventDefinition<Type, t.TypeOf<CodecOf<S>>, t.OutputOf<CodecOf<S>>> {
  checkOptions(`defineEvent(${JSON.stringify(type)})`, spec, ['data', 'version', 'history', 'renamedFrom']);
  const version = spec.version ?? 1;
  if (typeof type !== 'string' || type === '') {
    throw new RiverlogError('INVALID_CATALOG', `defineEvent: the type must be a non-empty string, got ${preview(type)}.`);
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new RiverlogError(
      'INVALID_CATALOG',
      `Event ${JSON.stringify(type)}: version must be a whole number from 1, got ${preview(version)}.`,
    );
  }
  const codec = (spec.data instanceof t.Type ? spec.data : strict(spec.data as t.Props, type)) as CodecOf<S>;
  const history = [...(spec.history ?? [])].sort((a, b) => a.version - b.version);
  for (const past of history) {
    if (past.version >= version || !Number.isInteger(past.version) || past.version < 1) {
      throw new RiverlogError(
        'INVALID_CATALOG',
        `Event ${JSON.stringify(type)}: past version ${past.version} must be a whole number from 1 below the current version ${version}.`,
      );
    }
  }
  return { type, version, codec, history, renamedFrom: [...(spec.renamedFrom ?? [])] };
}

/** The decoded event of one definition. */
export type EventOfDefinition<D> = D extends EventDefinition<infer Type, infer Data, infer _Wire> ? Envelope<Type, Data> : never;

/**
 * A set of event definitions: decodes what consumers read. Writing is
 * `createEvent(catalog, …)` and `validateEvent(catalog, …)`, free functions,
 * so a reader's bundle carries none of it.
 */
export interface Catalog<Defs extends AnyEventDefinition = AnyEventDefinition> {
  readonly definitions: readonly Defs[];
  readonly types: readonly Defs['type'][];
  has(type: string): type is Defs['type'];
  definition<T extends Defs['type']>(type: T): Extract<Defs, { type: T }>;
  /**
   * Decodes a stored envelope as a tolerant reader: checks the envelope,
   * finds the type (renamed types by their former names too), reads the
   * version from `dataschema` (see `dataschemaVersion`; the current version
   * where it is absent or foreign), upcasts older versions and decodes the
   * payload, dropping fields the catalog does not declare. An event without
   * `time` gets `storedAt` (when the log stored it), else the time of
   * decoding. The error's `kind` says why it failed and its message names
   * every failing path. The stored event itself is returned when nothing had
   * to change.
   *
   * @example
   * const decoded = catalog.decode(record.event, record.position, record.storedAt);
   */
  decode(stored: unknown, position?: Position, storedAt?: number): E.Either<DecodeError, EventOf<Catalog<Defs>>>;
  /**
   * The `dataschema` URI of a type's version (default: the current one):
   * `<dataschemaBase><type>/v<version>`, the type's segments percent-encoded.
   *
   * @example
   * catalog.dataschema('product/create'); // 'urn:riverlog:product/create/v2'
   */
  dataschema(type: Defs['type'], version?: number): string;
  /**
   * The type names events of these types may carry in a log: each type and
   * the names it had before a rename. Use it for a read's `types` filter.
   *
   * @example
   * log.read({ types: catalog.storedTypes(['product/created']) }); // also 'product/create'
   */
  storedTypes(types: readonly Defs['type'][]): string[];
}

/** Options of `defineCatalog`. */
export interface CatalogOptions {
  /**
   * The absolute URI each `dataschema` starts with, ending in `/` or `:`.
   * Default `urn:riverlog:`, so `product/create` version 2 is
   * `urn:riverlog:product/create/v2`; e.g. `https://schemas.shop.example/events/`.
   */
  readonly dataschemaBase?: string;
}

/** The `dataschema` base of a catalog made without one. */
export const DEFAULT_DATASCHEMA_BASE = 'urn:riverlog:';

/** The union of decoded events of a catalog. */
export type EventOf<C> = C extends Catalog<infer Defs> ? EventOfDefinition<Defs> : never;
/** The union of type names of a catalog. */
export type EventTypeOf<C> = C extends Catalog<infer Defs> ? Defs['type'] : never;
/** The payload of one type of a set of definitions, as producers pass it; `unknown` for an untyped catalog (`Catalog<any>`). */
export type DataOf<Defs, T> = unknown extends Defs
  ? unknown
  : Defs extends EventDefinition<infer Type, infer Data, infer _Wire>
    ? Type extends T
      ? Data
      : never
    : never;

/** The type of `ignore`: an object type, so it keeps its meaning in a handler map declared on its own. */
export interface Ignore {
  readonly riverlog: 'ignore';
}

/**
 * Marks a type in a handler map as deliberately not handled.
 *
 * @example
 * const handlers = { 'product/create': onCreate, 'product/image': ignore };
 */
export const ignore: Ignore = Object.freeze({ riverlog: 'ignore' as const });

/**
 * A handler per event type: every type of the union must be present, either
 * as a function or as `ignore`, so adding a type to the catalog makes every
 * handler map that forgot it a compile error.
 *
 * @example
 * const handlers: HandlerMap<EventOf<typeof catalog>, Context, Promise<void>> = {
 *   'product/create': async (event) => { ... },
 *   'product/image': ignore,
 * };
 */
export type HandlerMap<Event extends Envelope, Context = void, Result = unknown> = {
  readonly [Type in Event['type']]: ((event: Extract<Event, { type: Type }>, context: Context) => Result) | Ignore;
};

/** A type name as a URI path: each `/`-separated segment percent-encoded. */
function typePath(type: string): string {
  return type.split('/').map(encodeURIComponent).join('/');
}

const VERSION = /^[1-9][0-9]{0,8}$/;

/**
 * The version a `dataschema` names for an event of `type`, by riverlog's
 * reading rule: the URI ends in `<type>/v<N>` (the type percent-encoded as
 * `catalog.dataschema` writes it, right after a `/` or `:` or at the start)
 * with N a whole number from 1. Any base is read: `urn:riverlog:…`,
 * `https://…`, another organisation's. `undefined` when `dataschema` is
 * absent or has another form (a foreign schema): the catalog then reads the
 * event as its type's current version.
 *
 * @example
 * dataschemaVersion('https://schemas.shop.example/events/product/create/v2', 'product/create'); // 2
 * dataschemaVersion('https://registry.example/schemas/42', 'product/create'); // undefined
 */
export function dataschemaVersion(dataschema: unknown, type: string): number | undefined {
  return versionAfter(dataschema, `${typePath(type)}/v`);
}

/** `dataschemaVersion` with the type's marker (`<type path>/v`) made once per type. */
function versionAfter(dataschema: unknown, marker: string): number | undefined {
  if (typeof dataschema !== 'string') return undefined;
  const at = dataschema.lastIndexOf(marker);
  if (at < 0) return undefined;
  const before = dataschema.charCodeAt(at - 1);
  if (at > 0 && before !== 47 /* / */ && before !== 58 /* : */) return undefined;
  const digits = dataschema.slice(at + marker.length);
  return VERSION.test(digits) ? Number(digits) : undefined;
}

const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

function checkBase(base: unknown): string {
  if (typeof base !== 'string' || !URI_SCHEME.test(base) || /[\s#?]/.test(base)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `defineCatalog: dataschemaBase must be an absolute URI (a scheme such as urn: or https:, no spaces, query or fragment), got ${preview(base)}.`,
    );
  }
  if (!base.endsWith('/') && !base.endsWith(':')) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `defineCatalog: dataschemaBase must end with "/" or ":" (the type follows it), got ${JSON.stringify(base)}.`,
    );
  }
  return base;
}

/** A JSON media type, parameters allowed: `application/json; charset=utf-8`, `text/json`, `application/x+json`. */
export function isJsonContentType(contentType: string): boolean {
  const semicolon = contentType.indexOf(';');
  const media = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return media === 'application/json' || media === 'text/json' || media.endsWith('+json');
}

/** What the catalog keeps per name an event may carry. */
interface Entry<D> {
  readonly definition: D;
  /** The dataschema of the current version. */
  readonly dataschema: string;
  /** The codec is plain (see isIdentityCodec): `is` may stand in for validate/encode. */
  readonly fast: boolean;
  /** This name is the definition's current one (not a former name). */
  readonly current: boolean;
  /** `<name as a URI path>/v`: what a dataschema naming this name's versions ends with, before the number. */
  readonly marker: string;
}

/** The envelope check of `EnvelopeCodec.is` for the common case, by hand: it runs once per record read. */
function looksLikeEnvelope(u: unknown): boolean {
  if (typeof u !== 'object' || u === null) return false;
  const e = u as Record<string, unknown>;
  return (
    e.specversion === '1.0' &&
    typeof e.id === 'string' &&
    e.id.length > 0 &&
    typeof e.type === 'string' &&
    e.type.length > 0 &&
    typeof e.source === 'string' &&
    e.source.length > 0 &&
    typeof e.subject === 'string' &&
    e.subject.length > 0 &&
    typeof e.time === 'string' &&
    typeof e.dataschema === 'string' &&
    (e.datacontenttype === undefined || e.datacontenttype === 'application/json') &&
    (e.correlationid === undefined || typeof e.correlationid === 'string') &&
    (e.causationid === undefined || typeof e.causationid === 'string') &&
    (e.traceparent === undefined || typeof e.traceparent === 'string')
  );
}

/**
 * Makes a catalog from event definitions. TypeScript infers the union of
 * events from it: `EventOf<typeof catalog>`.
 *
 * @example
 * const catalog = defineCatalog([ProductCreated, ProductImaged]);
 * const https = defineCatalog([ProductCreated], { dataschemaBase: 'https://schemas.shop.example/events/' });
 * const result = catalog.decode(record.event, record.position);
 */
export function defineCatalog<const Defs extends readonly AnyEventDefinition[]>(
  definitions: Defs,
  options: CatalogOptions = {},
): Catalog<Defs[number]> {
  type D = Defs[number];
  checkOptions('defineCatalog', options, ['dataschemaBase']);
  const base = options.dataschemaBase === undefined ? DEFAULT_DATASCHEMA_BASE : checkBase(options.dataschemaBase);
  const byName = new Map<string, Entry<D>>();
  const current = new Map<string, D>();
  const schemaOf = (type: string, version: number) => `${base}${typePath(type)}/v${version}`;
  for (const definition of definitions) {
    for (const name of [definition.type, ...definition.renamedFrom]) {
      if (byName.has(name)) {
        throw new RiverlogError(
          'INVALID_CATALOG',
          `Event type ${JSON.stringify(name)} is defined twice in the catalog (as a type or a former name).`,
        );
      }
      byName.set(name, {
        definition,
        dataschema: schemaOf(definition.type, definition.version),
        fast: isIdentityCodec(definition.codec),
        current: name === definition.type,
        marker: `${typePath(name)}/v`,
      });
    }
    current.set(definition.type, definition);
  }
  const types = [...current.keys()];

  /**
   * `EnvelopeCodec.is` by hand, never more lenient: it runs for every event
   * off the fast path (e.g. each one with a field this catalog does not know).
   */
  function looksLikeStoredEvent(u: unknown): boolean {
    if (typeof u !== 'object' || u === null) return false;
    const e = u as Record<string, unknown>;
    return (
      e.specversion === '1.0' &&
      typeof e.id === 'string' &&
      e.id.length > 0 &&
      typeof e.type === 'string' &&
      e.type.length > 0 &&
      typeof e.source === 'string' &&
      e.source.length > 0 &&
      typeof e.subject === 'string' &&
      e.subject.length > 0 &&
      (e.time === undefined || (typeof e.time === 'string' && isValidTime(e.time))) &&
      (e.dataschema === undefined || (typeof e.dataschema === 'string' && e.dataschema.length > 0)) &&
      (e.datacontenttype === undefined || (typeof e.datacontenttype === 'string' && e.datacontenttype.length > 0)) &&
      (e.correlationid === undefined || typeof e.correlationid === 'string') &&
      (e.causationid === undefined || typeof e.causationid === 'string') &&
      (e.traceparent === undefined || typeof e.traceparent === 'string')
    );
  }

  function find(type: string): D {
    const definition = current.get(type);
    if (!definition) throw new UnknownEventTypeError(type, types);
    return definition;
  }

  function decode(stored: unknown, position?: Position, storedAt?: number): E.Either<DecodeError, Envelope> {
    // The common case: a current-version event whose payload passes a plain codec's `is`.
    if (looksLikeEnvelope(stored)) {
      const envelope = stored as Envelope;
      const entry = byName.get(envelope.type);
      if (entry?.fast && envelope.dataschema === entry.dataschema && entry.definition.codec.is(envelope.data)) {
        // Events of one millisecond share a time text: each distinct one is parsed once.
        if (isValidTime(envelope.time)) return E.right(envelope);
      }
    }
    return decodeSlowly(stored, position, storedAt);
  }

  function decodeSlowly(stored: unknown, position: Position | undefined, storedAt: number | undefined): E.Either<DecodeError, Envelope> {
    const where = position ? { position } : {};
    if (!looksLikeStoredEvent(stored)) {
      const checked = EnvelopeCodec.decode(stored);
      if (E.isLeft(checked)) {
        const issues = toIssues(checked.left);
        const type = typeof (stored as { type?: unknown } | null)?.type === 'string' ? (stored as { type: string }).type : undefined;
        return E.left(
          new DecodeError('not-envelope', `not a valid envelope: ${describeIssues(issues)}`, {
            ...where,
            ...(type ? { type } : {}),
            issues,
          }),
        );
      }
    }
    const envelope = stored as unknown as StoredEvent;
    const type = envelope.type;
    if (envelope.datacontenttype !== undefined && !isJsonContentType(envelope.datacontenttype)) {
      return E.left(
        new DecodeError(
          'not-envelope',
          `datacontenttype ${JSON.stringify(envelope.datacontenttype)} is not JSON; riverlog events carry JSON data`,
          { ...where, type },
        ),
      );
    }
    if ((envelope as { data_base64?: unknown }).data_base64 !== undefined) {
      return E.left(
        new DecodeError('not-envelope', 'the data is binary (data_base64); riverlog events carry JSON data', { ...where, type }),
      );
    }
    const entry = byName.get(type);
    if (!entry) return E.left(new DecodeError('unknown-type', `unknown event type ${JSON.stringify(type)}`, { ...where, type }));
    const { definition } = entry;
    const named = envelope.dataschema === entry.dataschema ? definition.version : versionAfter(envelope.dataschema, entry.marker);
    const version = named ?? definition.version;
    let data: unknown = envelope.data;
    if (version !== definition.version) {
      if (version > definition.version) {
        return E.left(
          new DecodeError(
            'newer-version',
            `written with version ${version}, newer than this catalog's ${definition.version}; deploy a catalog that defines version ${version}`,
            { ...where, type },
          ),
        );
      }
      const start = definition.history.findIndex((past) => past.version === version);
      if (start < 0) {
        return E.left(
          new DecodeError('invalid', `version ${version} has no upcaster in the catalog; add it to the type's history`, { ...where, type }),
        );
      }
      for (const past of definition.history.slice(start)) {
        const old = past.codec.validate(data, readingContext(past.codec, data));
        if (E.isLeft(old)) {
          const issues = toIssues(old.left, 'data');
          return E.left(
            new DecodeError('invalid', `payload invalid for version ${past.version}: ${describeIssues(issues)}`, {
              ...where,
              type,
              issues,
            }),
          );
        }
        try {
          data = past.upcast(old.right as never);
        } catch (error) {
          return E.left(
            new DecodeError('invalid', `upcaster from version ${past.version} threw: ${(error as Error).message}`, { ...where, type }),
          );
        }
      }
    }
    const result = definition.codec.validate(data, readingContext(definition.codec, data));
    if (E.isLeft(result)) {
      const issues = toIssues(result.left, 'data');
      return E.left(new DecodeError('invalid', `payload invalid: ${describeIssues(issues)}`, { ...where, type, issues }));
    }
    // The stored dataschema stays where it already names the current version (under any base).
    const keepsDataschema = named === definition.version && entry.current;
    if (result.right === envelope.data && keepsDataschema && envelope.time !== undefined) return E.right(envelope as Envelope);
    return E.right({
      ...envelope,
      type: definition.type,
      time: envelope.time ?? (storedAt !== undefined ? new Date(storedAt).toISOString() : isoNow()),
      dataschema: keepsDataschema ? envelope.dataschema : entry.dataschema,
      data: result.right,
    } as Envelope);
  }

  function storedTypes(wanted: readonly string[]): string[] {
    const names: string[] = [];
    for (const type of wanted) {
      const definition = find(type);
      names.push(definition.type, ...definition.renamedFrom);
    }
    return names;
  }

  return {
    definitions: [...current.values()],
    types,
    has: (type: string): type is D['type'] => current.has(type),
    definition: find as Catalog<D>['definition'],
    decode: decode as Catalog<D>['decode'],
    dataschema: (type: string, version?: number) => schemaOf(find(type).type, version ?? find(type).version),
    storedTypes,
  };
}

/**
 * Decodes a record read from a log against the catalog: a record that is not
 * an envelope at all (`record.error`, e.g. not JSON, invalid UTF-8) fails
 * with kind `not-envelope`; anything else goes through `catalog.decode`
 * (envelope, upcast, payload), with the record's `storedAt` as the time of
 * an event that has none.
 *
 * @example
 * const decoded = decodeRecord(catalog, record);
 * if (decoded._tag === 'Left' && decoded.left.kind === 'not-envelope') await deadLetters.send([...]);
 */
export function decodeRecord<C extends Catalog>(catalog: C, record: LogRecord): E.Either<DecodeError, EventOf<C>> {
  if (record.event === undefined && record.error !== undefined) {
    return E.left(new DecodeError('not-envelope', `not an envelope: ${record.error}`, { position: record.position }));
  }
  return catalog.decode(record.event, record.position, record.storedAt) as E.Either<DecodeError, EventOf<C>>;
}
