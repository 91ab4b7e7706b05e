import * as t from 'io-ts';
import * as E from './either.js';
import { type Envelope, EnvelopeCodec, type StoredEvent } from './envelope.js';
import { DecodeError, type DecodeFailure, RiverlogError, UnknownEventTypeError, type ValidationIssue } from './errors.js';
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
  checkVersion(type, version);
  const codec = (spec.data instanceof t.Type ? spec.data : strict(spec.data as t.Props, type)) as CodecOf<S>;
  const history = [...(spec.history ?? [])].sort((a, b) => a.version - b.version);
  for (const past of history) checkVersion(type, past.version, version);
  return { type, version, codec, history, renamedFrom: [...(spec.renamedFrom ?? [])] };
}

/** Throws unless `version` is a whole number from 1, and below `current` for a past version. */
function checkVersion(type: string, version: number, current?: number): void {
  if (Number.isInteger(version) && version >= 1 && (current === undefined || version < current)) return;
  const what = current === undefined ? 'version' : 'past version';
  const below = current === undefined ? '' : ` below the current version ${current}`;
  throw new RiverlogError(
    'INVALID_CATALOG',
    `Event ${JSON.stringify(type)}: ${what} ${preview(version)} must be a whole number from 1${below}.`,
  );
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

/** An absolute URI (a scheme, then no spaces, query or fragment) ending in `/` or `:`. */
const DATASCHEMA_BASE = /^[A-Za-z][A-Za-z0-9+.-]*:([^\s#?]*[/:])?$/;

function checkBase(base: unknown): string {
  if (typeof base !== 'string' || !DATASCHEMA_BASE.test(base)) {
    throw new RiverlogError(
      'INVALID_OPTION',
      `defineCatalog: dataschemaBase must be an absolute URI (a scheme such as urn: or https:, no spaces, query or fragment) and end with "/" or ":" (the type follows it), got ${preview(base)}.`,
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

/** What `envelopeKind` found: not a stored event, a stored event, or an envelope as `createEvent` writes one. */
const NOT_STORED = 0;
const STORED = 1;
const WRITTEN = 2;

/**
 * `EnvelopeCodec.is` by hand, never more lenient (it runs once per record
 * read): `NOT_STORED` when it fails; `WRITTEN` when the event also has
 * `time` and `dataschema` and a JSON content type named as riverlog writes
 * it (absent or `application/json`), the shape of the fast path; `STORED`
 * for any other valid stored event.
 */
function envelopeKind(u: unknown): number {
  if (typeof u !== 'object' || u === null) return NOT_STORED;
  const e = u as Record<string, unknown>;
  if (
    e.specversion !== '1.0' ||
    typeof e.id !== 'string' ||
    e.id === '' ||
    typeof e.type !== 'string' ||
    e.type === '' ||
    typeof e.source !== 'string' ||
    e.source === '' ||
    typeof e.subject !== 'string' ||
    e.subject === '' ||
    (e.correlationid !== undefined && typeof e.correlationid !== 'string') ||
    (e.causationid !== undefined && typeof e.causationid !== 'string') ||
    (e.traceparent !== undefined && typeof e.traceparent !== 'string')
  ) {
    return NOT_STORED;
  }
  const { time, dataschema, datacontenttype } = e;
  if (
    typeof time === 'string' &&
    typeof dataschema === 'string' &&
    (datacontenttype === undefined || datacontenttype === 'application/json')
  ) {
    return dataschema !== '' && isValidTime(time) ? WRITTEN : NOT_STORED;
  }
  return (time === undefined || (typeof time === 'string' && isValidTime(time))) &&
    (dataschema === undefined || (typeof dataschema === 'string' && dataschema !== '')) &&
    (datacontenttype === undefined || (typeof datacontenttype === 'string' && datacontenttype !== ''))
    ? STORED
    : NOT_STORED;
}

/** A record's DecodeError: where it is, its type, and every failing path after the reason. */
function failure(
  kind: DecodeFailure,
  reason: string,
  position: Position | undefined,
  type: string | undefined,
  issues?: ValidationIssue[],
): E.Either<DecodeError, never> {
  return E.left(new DecodeError(kind, issues ? `${reason}: ${describeIssues(issues)}` : reason, { position, type, issues }));
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

  function find(type: string): D {
    const definition = current.get(type);
    if (!definition) throw new UnknownEventTypeError(type, types);
    return definition;
  }

  function decode(stored: unknown, position?: Position, storedAt?: number): E.Either<DecodeError, Envelope> {
    const kind = envelopeKind(stored);
    // The common case: a current-version event whose payload passes a plain codec's `is`.
    if (kind === WRITTEN) {
      const envelope = stored as Envelope;
      const entry = byName.get(envelope.type);
      if (entry?.fast && envelope.dataschema === entry.dataschema && entry.definition.codec.is(envelope.data)) return E.right(envelope);
    }
    return decodeSlowly(stored, kind !== NOT_STORED, position, storedAt);
  }

  function decodeSlowly(
    stored: unknown,
    looksStored: boolean,
    position: Position | undefined,
    storedAt: number | undefined,
  ): E.Either<DecodeError, Envelope> {
    if (!looksStored) {
      const checked = EnvelopeCodec.decode(stored);
      if (E.isLeft(checked)) {
        const named = (stored as { type?: unknown } | null)?.type;
        const type = typeof named === 'string' && named !== '' ? named : undefined;
        return failure('not-envelope', 'not a valid envelope', position, type, toIssues(checked.left));
      }
    }
    const envelope = stored as unknown as StoredEvent;
    const { type, datacontenttype } = envelope;
    if (datacontenttype !== undefined && !isJsonContentType(datacontenttype)) {
      return failure(
        'not-envelope',
        `datacontenttype ${JSON.stringify(datacontenttype)} is not JSON; riverlog events carry JSON data`,
        position,
        type,
      );
    }
    if ((envelope as { data_base64?: unknown }).data_base64 !== undefined) {
      return failure('not-envelope', 'the data is binary (data_base64); riverlog events carry JSON data', position, type);
    }
    const entry = byName.get(type);
    if (!entry) return failure('unknown-type', `unknown event type ${JSON.stringify(type)}`, position, type);
    const { definition } = entry;
    const current = definition.version;
    const written = envelope.dataschema === entry.dataschema ? current : versionAfter(envelope.dataschema, entry.marker);
    const version = written ?? current;
    let data: unknown = envelope.data;
    if (version > current) {
      return failure(
        'newer-version',
        `written with version ${version}, newer than this catalog's ${current}; deploy a catalog that defines version ${version}`,
        position,
        type,
      );
    }
    if (version < current) {
      const start = definition.history.findIndex((past) => past.version === version);
      if (start < 0)
        return failure('invalid', `version ${version} has no upcaster in the catalog; add it to the type's history`, position, type);
      for (const past of definition.history.slice(start)) {
        const old = past.codec.validate(data, readingContext(past.codec, data));
        if (E.isLeft(old))
          return failure('invalid', `payload invalid for version ${past.version}`, position, type, toIssues(old.left, 'data'));
        try {
          data = past.upcast(old.right as never);
        } catch (error) {
          return failure('invalid', `upcaster from version ${past.version} threw: ${(error as Error).message}`, position, type);
        }
      }
    }
    const result = definition.codec.validate(data, readingContext(definition.codec, data));
    if (E.isLeft(result)) return failure('invalid', 'payload invalid', position, type, toIssues(result.left, 'data'));
    // The stored dataschema stays where it already names the current version (under any base).
    const keepsDataschema = written === current && entry.current;
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
