import * as t from 'io-ts';
import type { ValidationIssue } from './errors.js';

const MAX_ACTUAL = 60;

/** JSON.stringify would write these as null: show what they are. */
function nonJsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

/**
 * A value as short JSON for error messages: `NaN` and `Infinity` as such
 * (JSON would say `null`), `undefined`, bigints and functions by name.
 *
 * @example
 * preview(Number.NaN); // 'NaN'
 */
export function preview(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (typeof value === 'number' || typeof value === 'bigint') text = String(value);
  else if (typeof value === 'function') text = `function ${value.name || '(anonymous)'}`;
  else if (typeof value === 'symbol') text = value.toString();
  else {
    try {
      text = JSON.stringify(value, nonJsonNumbers) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > MAX_ACTUAL ? `${text.slice(0, MAX_ACTUAL - 1)}…` : text;
}

function isCombinator(type: t.Decoder<unknown, unknown> | undefined): boolean {
  const tag = (type as { _tag?: string } | undefined)?._tag;
  return tag === 'IntersectionType' || tag === 'UnionType';
}

/** Issues as one line: `data.brand: expected string, got 42; …`. */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: expected ${i.expected}, got ${i.actual}`).join('; ');
}

/** io-ts errors as one issue per failing field path, each path once. */
export function toIssues(errors: t.Errors, prefix = ''): ValidationIssue[] {
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    // Intersections and unions add their member index to the path: not a field.
    const keys = error.context
      .filter((entry, i) => i > 0 && entry.key !== '' && !isCombinator(error.context[i - 1]?.type))
      .map((entry) => entry.key);
    const path = [prefix, ...keys].filter(Boolean).join('.');
    const last = error.context[error.context.length - 1];
    const expected = error.message ?? last?.type.name ?? 'valid value';
    if (seen.has(path)) continue;
    seen.add(path);
    issues.push({ path, expected, actual: preview(error.value) });
  }
  return issues;
}

/** A field codec made by `optional`: its key may be absent. */
export interface OptionalC<C extends t.Mixed> extends t.UnionC<[C, t.UndefinedC]> {
  readonly optional: true;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<P> = { [K in keyof P]: P[K] extends { readonly optional: true } ? K : never }[keyof P];
/** The decoded type of `strict(props)`: fields made with `optional` may be absent. */
export type StrictType<P extends t.Props> = Simplify<
  { [K in Exclude<keyof P, OptionalKeys<P>>]: t.TypeOf<P[K]> } & { [K in OptionalKeys<P>]?: t.TypeOf<P[K]> }
>;
/** The encoded type of `strict(props)`. */
export type StrictOutput<P extends t.Props> = Simplify<
  { [K in Exclude<keyof P, OptionalKeys<P>>]: t.OutputOf<P[K]> } & { [K in OptionalKeys<P>]?: t.OutputOf<P[K]> }
>;
/** The codec `strict(props)` makes. */
export type StrictC<P extends t.Props> = t.Type<StrictType<P>, StrictOutput<P>, unknown>;

const READING: unique symbol = Symbol('riverlog.reading');

/**
 * The root context of a tolerant read: `strict` codecs validated under it
 * drop the fields they do not declare instead of refusing them (the catalog's
 * decode uses it; producers validate without it and are refused).
 *
 * @example
 * const result = codec.validate(data, readingContext(codec, data));
 */
export function readingContext(codec: t.Decoder<unknown, unknown>, actual: unknown): t.Context {
  const root = { key: '', type: codec, actual, [READING]: true };
  return [root];
}

function isReading(context: t.Context): boolean {
  return (context[0] as { [READING]?: boolean } | undefined)?.[READING] === true;
}

/**
 * An object codec that refuses keys it does not declare when writing, naming
 * each one (io-ts's own `t.type` accepts them and `t.exact` drops them
 * silently), and drops them when reading under `readingContext`: strict
 * writer, tolerant reader.
 *
 * @example
 * const Product = strict({ id: t.string, name: t.string });
 * Product.decode({ id: '1', name: 'x', price: 3 }); // Left: price is not allowed
 * Product.validate({ id: '1', name: 'x', price: 3 }, readingContext(Product, input)); // Right: { id: '1', name: 'x' }
 */
export function strict<P extends t.Props>(props: P, name?: string): StrictC<P> {
  // Optional fields are unions with undefined: t.type checks them; the types say their keys may be absent.
  const base = t.type(props) as unknown as t.Type<StrictType<P>, StrictOutput<P>, unknown>;
  const plain = Object.values(props).every((prop) => isIdentityCodec(prop));
  const allowed = new Set(Object.keys(props));
  const codecName = name ?? base.name;
  const codec = new t.Type<StrictType<P>, StrictOutput<P>, unknown>(
    codecName,
    (u): u is StrictType<P> => {
      if (!base.is(u)) return false;
      // A loop, not Object.keys: this runs for every event a consumer decodes.
      for (const key in u as object) if (!allowed.has(key)) return false;
      return true;
    },
    (u, context) => {
      const result = base.validate(u, context);
      if (typeof u !== 'object' || u === null) return result;
      const extra = Object.keys(u).filter((k) => !allowed.has(k));
      if (extra.length === 0) return result;
      if (isReading(context)) {
        if (result._tag === 'Left') return result;
        const declared = result.right as Record<string, unknown>;
        const kept: Record<string, unknown> = {};
        for (const key of allowed) if (key in declared) kept[key] = declared[key];
        return t.success(kept as StrictType<P>);
      }
      const unknownFields: t.Errors = extra.map((key) => ({
        value: (u as Record<string, unknown>)[key],
        context: [...context, { key, type: t.never, actual: (u as Record<string, unknown>)[key] }],
        message: 'no such field (unknown fields are refused)',
      }));
      return t.failures(result._tag === 'Left' ? [...result.left, ...unknownFields] : unknownFields);
    },
    base.encode,
  );
  if (plain) identityCodecs.add(codec);
  strictPropsOf.set(codec, props);
  return codec;
}

const identityCodecs = new WeakSet<t.Mixed>();
const strictPropsOf = new WeakMap<t.Mixed, t.Props>();

/**
 * The fields a `strict` codec was made from (its own io-ts type hides them),
 * or undefined for any other codec: for walks over a codec's shape.
 *
 * @example
 * strictProps(strict({ id: t.string })); // { id: t.string }
 */
export function strictProps(codec: t.Mixed): t.Props | undefined {
  return strictPropsOf.get(codec);
}

const PLAIN_TAGS = new Set([
  'StringType',
  'NumberType',
  'BooleanType',
  'UnknownType',
  'NullType',
  'UndefinedType',
  'LiteralType',
  'KeyofType',
]);

/**
 * True for codecs whose decoded value is the input itself (made by `strict`
 * or `optional` from plain codecs, or io-ts's primitives, literals and
 * keyofs), so a passing `is` check may stand in for `validate`.
 */
export function isIdentityCodec(codec: t.Mixed): boolean {
  return identityCodecs.has(codec) || PLAIN_TAGS.has((codec as { _tag?: string })._tag ?? '');
}

/**
 * A field that may be absent (or `undefined`): `t.union([codec, t.undefined])`,
 * which keeps the catalog's fast path when `codec` is plain. Adding an
 * optional field is a compatible change: see docs/evolution.md.
 *
 * @example
 * defineEvent('product/create', { data: { id: t.string, name: t.string, color: optional(t.string) } });
 */
export function optional<C extends t.Mixed>(codec: C): OptionalC<C> {
  const union = Object.assign(t.union([codec, t.undefined], `${codec.name} (optional)`), { optional: true as const });
  if (isIdentityCodec(codec)) identityCodecs.add(union);
  return union;
}
