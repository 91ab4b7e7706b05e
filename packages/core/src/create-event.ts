// The catalog's write half: what producers need and readers never call, kept out of `defineCatalog`
// so a consumer's bundle carries no payload encoding, finite-number checks or ULIDs.
import type { AnyEventDefinition, Catalog, DataOf } from './catalog.js';
import * as E from './either.js';
import { type Envelope, EnvelopeCodec, type EventMeta } from './envelope.js';
import { RiverlogError, UnknownEventTypeError, ValidationError } from './errors.js';
import { type FiniteCheck, finiteCheck, nonFiniteIssues } from './finite-numbers.js';
import { isIdentityCodec, preview, toIssues } from './issues.js';
import { checkOptions } from './options.js';
import { isoNow, isValidTime } from './time-text.js';
import { ulid } from './ulid.js';

/** What writing one type needs, made once per catalog on its first write. */
interface WriteEntry {
  readonly definition: AnyEventDefinition;
  /** The dataschema of the current version. */
  readonly dataschema: string;
  /** The codec is plain (see isIdentityCodec): `is` may stand in for validate/encode. */
  readonly fast: boolean;
  /** Whether a payload's numbers are finite (JSON has no NaN): undefined when its shape holds no number. */
  readonly finite: FiniteCheck | undefined;
}

/** The options `createEvent` knows: a misspelt one (e.g. `correlationId`) is refused, never dropped. */
const EVENT_OPTIONS = ['source', 'id', 'time', 'correlationid', 'causationid', 'traceparent'];
const isEventOption = (key: string) =>
  key === 'source' || key === 'id' || key === 'time' || key === 'correlationid' || key === 'causationid' || key === 'traceparent';

const writers = new WeakMap<Catalog, Map<string, WriteEntry>>();

/** The write entries of a catalog's current types, made on its first write and kept as long as the catalog. */
function entriesOf(catalog: Catalog, caller: string): Map<string, WriteEntry> {
  const known = writers.get(catalog);
  if (known) return known;
  if (typeof catalog?.definition !== 'function' || !Array.isArray(catalog.definitions)) {
    throw new RiverlogError('INVALID_OPTION', `${caller}: catalog must be a catalog from defineCatalog, got ${preview(catalog)}.`);
  }
  const entries = new Map<string, WriteEntry>();
  for (const definition of catalog.definitions) {
    entries.set(definition.type, {
      definition,
      dataschema: catalog.dataschema(definition.type),
      fast: isIdentityCodec(definition.codec),
      finite: finiteCheck(definition.codec),
    });
  }
  writers.set(catalog, entries);
  return entries;
}

/** The encoded payload of a known type, or a ValidationError naming every failing field. */
function encode(type: string, entry: WriteEntry, data: unknown): E.Either<ValidationError, unknown> {
  const { codec } = entry.definition;
  let encoded = data;
  // A plain codec's `is` decides alone, and its encoding is the value itself.
  if (!entry.fast || !codec.is(data)) {
    const result = codec.validate(data, [{ key: '', type: codec, actual: data }]);
    if (E.isLeft(result)) return E.left(new ValidationError(type, toIssues(result.left, 'data')));
    encoded = codec.encode(result.right);
  }
  // JSON has no NaN or Infinity (it would store null): each one is named.
  if (entry.finite === undefined || entry.finite(encoded)) return E.right(encoded);
  return E.left(new ValidationError(type, nonFiniteIssues(encoded, 'data')));
}

/**
 * Checks a payload against its type's current version in the catalog, as a
 * strict writer: unknown fields and numbers JSON cannot hold (`NaN`,
 * `±Infinity`) are refused. Returns the payload encoded for the wire, or a
 * `ValidationError` listing every failing field (or an
 * `UnknownEventTypeError`). The type and payload are checked against the
 * catalog at compile time too.
 *
 * @example
 * const checked = validateEvent(catalog, 'product/create', { id: 'p1', name: 'Boot' });
 * if (checked._tag === 'Left') console.error(checked.left.message);
 */
export function validateEvent<Defs extends AnyEventDefinition, T extends Defs['type']>(
  catalog: Catalog<Defs>,
  type: T,
  data: DataOf<Defs, T>,
): E.Either<ValidationError | UnknownEventTypeError, unknown> {
  const entry = entriesOf(catalog, 'validateEvent').get(type);
  if (!entry) return E.left(new UnknownEventTypeError(type, catalog.types));
  return encode(type, entry, data);
}

/**
 * Builds a valid envelope of a type of the catalog: checks the payload as
 * `validateEvent` does, stamps `id` (a ULID) and `time` (now) unless given,
 * and names the type's current version in `dataschema`. Throws
 * `ValidationError` (every failing field of the payload or envelope) or
 * `UnknownEventTypeError`, and an `INVALID_OPTION` error for an option it
 * does not know (a misspelt `correlationId` is refused, never dropped). The
 * type and payload are checked against the catalog at compile time too. A
 * producer calls it for each event it emits.
 *
 * @example
 * const event = createEvent(catalog, 'product/create', 'p1', { id: 'p1', name: 'Boot' }, { source: 'shop' });
 * await log.append([event]);
 */
export function createEvent<Defs extends AnyEventDefinition, T extends Defs['type']>(
  catalog: Catalog<Defs>,
  type: T,
  subject: string,
  data: DataOf<Defs, T>,
  options: { readonly source: string } & EventMeta,
): Envelope<T, unknown> {
  const entry = entriesOf(catalog, 'createEvent').get(type);
  if (!entry) throw new UnknownEventTypeError(type, catalog.types);
  const encoded = encode(type, entry, data);
  if (E.isLeft(encoded)) throw encoded.left;
  // A plain-JavaScript caller may pass no options, or an invalid Date (its text is "Invalid Date"): the envelope check below names the field.
  const given: Partial<typeof options> = options ?? {};
  for (const key in given) if (!isEventOption(key)) checkOptions(`createEvent (${JSON.stringify(type)})`, given, EVENT_OPTIONS);
  const at = given.time;
  const time = at instanceof Date ? (Number.isNaN(at.getTime()) ? String(at) : at.toISOString()) : (at ?? isoNow());
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: given.id ?? ulid(),
    type,
    source: given.source,
    subject,
    time,
    dataschema: entry.dataschema,
    data: encoded.right,
  };
  if (given.correlationid !== undefined) event.correlationid = given.correlationid;
  if (given.causationid !== undefined) event.causationid = given.causationid;
  if (given.traceparent !== undefined) event.traceparent = given.traceparent;
  // id and time are made here unless given: check only what callers supply.
  const suppliedOk =
    typeof subject === 'string' &&
    subject.length > 0 &&
    typeof given.source === 'string' &&
    given.source.length > 0 &&
    (given.id === undefined || (typeof given.id === 'string' && given.id.length > 0)) &&
    (given.time === undefined || isValidTime(time)) &&
    (given.correlationid === undefined || typeof given.correlationid === 'string') &&
    (given.causationid === undefined || typeof given.causationid === 'string') &&
    (given.traceparent === undefined || typeof given.traceparent === 'string');
  if (!suppliedOk && !EnvelopeCodec.is(event)) {
    const checked = EnvelopeCodec.decode(event);
    const issues = E.isLeft(checked) ? toIssues(checked.left) : [];
    throw new ValidationError(type, issues, ' (envelope)');
  }
  return event as unknown as Envelope<T, unknown>;
}
