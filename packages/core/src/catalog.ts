import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { type Envelope, EnvelopeCodec, type EventMeta } from './envelope.js';
import { DecodeError, RiverlogError, UnknownEventTypeError, ValidationError } from './errors.js';
import { describeIssues, isIdentityCodec, strict, toIssues } from './issues.js';
import type { LogRecord } from './ports.js';
import type { Position } from './position.js';
import { ulid } from './ulid.js';

/** An older version of an event's payload, with the step that turns it into the next version. */
export interface PastVersion {
  readonly version: number;
  readonly codec: t.Mixed;
  readonly upcast: (data: never) => unknown;
}

/**
 * One event type: its name, its current version and payload codec, and the
 * versions before it.
 */
export interface EventDefinition<Type extends string = string, Data = unknown, Wire = Data> {
  readonly type: Type;
  readonly version: number;
  readonly codec: t.Type<Data, Wire, unknown>;
  /** `<type>@<version>`, written into each envelope's `dataschema`. */
  readonly dataschema: string;
  /** Older versions, oldest first. */
  readonly history: readonly PastVersion[];
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
type CodecOf<S> = S extends t.Props ? t.Type<t.TypeOf<t.TypeC<S>>, t.OutputOf<t.TypeC<S>>, unknown> : S;

/**
 * Defines an event type. `data` is an io-ts codec, or a plain object of
 * field codecs, which becomes a codec that refuses unknown fields.
 *
 * @example
 * const ProductCreated = defineEvent('product/create', {
 *   version: 2,
 *   data: { id: t.string, name: t.string, brand: t.string },
 *   history: [pastVersion(1, strict({ id: t.string, name: t.string }), (d) => ({ ...d, brand: 'unknown' }))],
 * });
 */
export function defineEvent<Type extends string, S extends DataSpec>(
  type: Type,
  spec: { readonly data: S; readonly version?: number; readonly history?: readonly PastVersion[] },
): EventDefinition<Type, t.TypeOf<CodecOf<S>>, t.OutputOf<CodecOf<S>>> {
  const version = spec.version ?? 1;
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
  return { type, version, codec, dataschema: `${type}@${version}`, history };
}

/** The decoded event of one definition. */
export type EventOfDefinition<D> = D extends EventDefinition<infer Type, infer Data, infer _Wire> ? Envelope<Type, Data> : never;

/** A set of event definitions: validates what producers write, decodes what consumers read. */
export interface Catalog<Defs extends AnyEventDefinition = AnyEventDefinition> {
  readonly definitions: readonly Defs[];
  readonly types: readonly Defs['type'][];
  has(type: string): type is Defs['type'];
  definition<T extends Defs['type']>(type: T): Extract<Defs, { type: T }>;
  /**
   * Checks a payload against the current version and returns it encoded for
   * the wire, or a `ValidationError` listing every failing field (or an
   * `UnknownEventTypeError`).
   */
  validate<T extends Defs['type']>(type: T, data: DataOf<Defs, T>): E.Either<ValidationError | UnknownEventTypeError, unknown>;
  /**
   * Builds a valid envelope, or throws `ValidationError` / `UnknownEventTypeError`.
   *
   * @example
   * const event = catalog.create('product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'shop' });
   */
  create<T extends Defs['type']>(
    type: T,
    subject: string,
    data: DataOf<Defs, T>,
    options: { readonly source: string } & EventMeta,
  ): Envelope<T, unknown>;
  /**
   * Decodes a stored envelope: checks the envelope, finds the type, upcasts
   * older versions and decodes the payload. The error names every failing path.
   */
  decode(stored: unknown, position?: Position): E.Either<DecodeError, EventOf<Catalog<Defs>>>;
}

/** The union of decoded events of a catalog. */
export type EventOf<C> = C extends Catalog<infer Defs> ? EventOfDefinition<Defs> : never;
/** The union of type names of a catalog. */
export type EventTypeOf<C> = C extends Catalog<infer Defs> ? Defs['type'] : never;
/** The payload of one type of a set of definitions, as producers pass it. */
export type DataOf<Defs, T> = Defs extends EventDefinition<infer Type, infer Data, infer _Wire> ? (Type extends T ? Data : never) : never;

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

const DATASCHEMA = /^(.+)@(\d+)$/;

/** The envelope check of `EnvelopeCodec.is`, by hand: it runs once per record read. */
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
    'data' in e &&
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
 * const result = catalog.decode(record.event, record.position);
 */
export function defineCatalog<const Defs extends readonly AnyEventDefinition[]>(definitions: Defs): Catalog<Defs[number]> {
  type D = Defs[number];
  const byType = new Map<string, D>();
  for (const definition of definitions) {
    if (byType.has(definition.type)) {
      throw new RiverlogError('INVALID_CATALOG', `Event type ${JSON.stringify(definition.type)} is defined twice in the catalog.`);
    }
    byType.set(definition.type, definition);
  }
  const types = [...byType.keys()];
  // Definitions whose codec is plain (see isIdentityCodec): `is` may stand in for validate/encode.
  const fastPath = new Map<D, boolean>();
  for (const definition of byType.values()) fastPath.set(definition, isIdentityCodec(definition.codec));
  let lastValidTime = '';
  // Producers stamp many events with one millisecond's text: parse each distinct one once.
  function isValidTime(time: string): boolean {
    if (Number.isNaN(Date.parse(time))) return false;
    lastValidTime = time;
    return true;
  }

  function find(type: string): D {
    const definition = byType.get(type);
    if (!definition) throw new UnknownEventTypeError(type, types);
    return definition;
  }

  function validate(type: string, data: unknown): E.Either<ValidationError | UnknownEventTypeError, unknown> {
    const definition = byType.get(type);
    if (!definition) return E.left(new UnknownEventTypeError(type, types));
    // A plain codec's `is` decides alone, and its encoding is the value itself.
    if (fastPath.get(definition) && definition.codec.is(data)) return E.right(data);
    const result = definition.codec.validate(data, [{ key: '', type: definition.codec, actual: data }]);
    if (E.isLeft(result)) return E.left(new ValidationError(type, toIssues(result.left, 'data')));
    return E.right(definition.codec.encode(result.right));
  }

  function create(
    type: string,
    subject: string,
    data: unknown,
    options: { readonly source: string } & EventMeta,
  ): Envelope<string, unknown> {
    const definition = find(type);
    const encoded = validate(type, data);
    if (E.isLeft(encoded)) throw encoded.left;
    const time = options.time instanceof Date ? options.time.toISOString() : (options.time ?? isoNow());
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id: options.id ?? ulid(),
      type,
      source: options.source,
      subject,
      time,
      dataschema: definition.dataschema,
      data: encoded.right,
    };
    if (options.correlationid !== undefined) event.correlationid = options.correlationid;
    if (options.causationid !== undefined) event.causationid = options.causationid;
    if (options.traceparent !== undefined) event.traceparent = options.traceparent;
    // The producer made id and time itself unless given: check only what callers supply.
    const suppliedOk =
      typeof subject === 'string' &&
      subject.length > 0 &&
      typeof options.source === 'string' &&
      options.source.length > 0 &&
      (options.id === undefined || (typeof options.id === 'string' && options.id.length > 0)) &&
      (options.time === undefined || time === lastValidTime || isValidTime(time)) &&
      (options.correlationid === undefined || typeof options.correlationid === 'string') &&
      (options.causationid === undefined || typeof options.causationid === 'string') &&
      (options.traceparent === undefined || typeof options.traceparent === 'string');
    if (!suppliedOk && !EnvelopeCodec.is(event)) {
      const checked = EnvelopeCodec.decode(event);
      const issues = E.isLeft(checked) ? toIssues(checked.left) : [];
      throw new ValidationError(type, issues, ' (envelope)');
    }
    return event as unknown as Envelope<string, unknown>;
  }

  function decode(stored: unknown, position?: Position): E.Either<DecodeError, Envelope> {
    // The common case: a current-version event whose payload passes a plain codec's `is`.
    if (looksLikeEnvelope(stored)) {
      const envelope = stored as Envelope;
      const definition = byType.get(envelope.type);
      if (definition && envelope.dataschema === definition.dataschema && fastPath.get(definition) && definition.codec.is(envelope.data)) {
        // Events of one millisecond share a time text: parse each distinct one once.
        if (envelope.time === lastValidTime) return E.right(envelope);
        if (!Number.isNaN(Date.parse(envelope.time))) {
          lastValidTime = envelope.time;
          return E.right(envelope);
        }
      }
    }
    const where = position ? { position } : {};
    if (!EnvelopeCodec.is(stored)) {
      const checked = EnvelopeCodec.decode(stored);
      const issues = E.isLeft(checked) ? toIssues(checked.left) : [];
      const type = typeof (stored as { type?: unknown } | null)?.type === 'string' ? (stored as { type: string }).type : undefined;
      const reason = issues.length > 0 ? `not a valid envelope: ${describeIssues(issues)}` : 'not a valid envelope';
      return E.left(new DecodeError(reason, { ...where, ...(type ? { type } : {}), issues }));
    }
    const envelope = stored as unknown as Envelope;
    const definition = byType.get(envelope.type);
    if (!definition) {
      return E.left(new DecodeError(`unknown event type ${JSON.stringify(envelope.type)}`, { ...where, type: envelope.type }));
    }
    const schema = DATASCHEMA.exec(envelope.dataschema);
    if (!schema || schema[1] !== envelope.type) {
      return E.left(
        new DecodeError(`dataschema ${JSON.stringify(envelope.dataschema)} does not name ${envelope.type}@<version>`, {
          ...where,
          type: envelope.type,
        }),
      );
    }
    const version = Number(schema[2]);
    let data: unknown = envelope.data;
    if (version !== definition.version) {
      if (version > definition.version) {
        return E.left(
          new DecodeError(`written with version ${version}, newer than this catalog's ${definition.version}; upgrade the catalog`, {
            ...where,
            type: envelope.type,
          }),
        );
      }
      const start = definition.history.findIndex((past) => past.version === version);
      if (start < 0) {
        return E.left(new DecodeError(`version ${version} has no upcaster in the catalog`, { ...where, type: envelope.type }));
      }
      for (const past of definition.history.slice(start)) {
        const old = past.codec.validate(data, [{ key: '', type: past.codec, actual: data }]);
        if (E.isLeft(old)) {
          const issues = toIssues(old.left, 'data');
          return E.left(
            new DecodeError(`payload invalid for version ${past.version}: ${describeIssues(issues)}`, {
              ...where,
              type: envelope.type,
              issues,
            }),
          );
        }
        try {
          data = past.upcast(old.right as never);
        } catch (error) {
          return E.left(
            new DecodeError(`upcaster from version ${past.version} threw: ${(error as Error).message}`, { ...where, type: envelope.type }),
          );
        }
      }
    }
    const result = definition.codec.validate(data, [{ key: '', type: definition.codec, actual: data }]);
    if (E.isLeft(result)) {
      const issues = toIssues(result.left, 'data');
      return E.left(new DecodeError(`payload invalid: ${describeIssues(issues)}`, { ...where, type: envelope.type, issues }));
    }
    if (result.right === envelope.data && version === definition.version) return E.right(envelope);
    return E.right({ ...envelope, dataschema: definition.dataschema, data: result.right });
  }

  return {
    definitions: [...byType.values()],
    types,
    has: (type: string): type is D['type'] => byType.has(type),
    definition: find as Catalog<D>['definition'],
    validate: validate as Catalog<D>['validate'],
    create: create as Catalog<D>['create'],
    decode: decode as Catalog<D>['decode'],
  };
}

/**
 * Decodes a record read from a log against the catalog: a record that is not
 * an envelope at all (`record.error`, e.g. not JSON) fails with that reason;
 * anything else goes through `catalog.decode` (envelope, upcast, payload).
 *
 * @example
 * const decoded = decodeRecord(catalog, record);
 * if (decoded._tag === 'Left') await deadLetters.send([{ record, reason: decoded.left.message, ... }]);
 */
export function decodeRecord<C extends Catalog>(catalog: C, record: LogRecord): E.Either<DecodeError, EventOf<C>> {
  if (record.event === undefined && record.error !== undefined) {
    return E.left(new DecodeError(`not an envelope: ${record.error}`, { position: record.position }));
  }
  return catalog.decode(record.event, record.position) as E.Either<DecodeError, EventOf<C>>;
}

let lastMillisecond = -1;
let lastIso = '';

/** `new Date().toISOString()`, formatted once per millisecond: a burst of events shares it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
