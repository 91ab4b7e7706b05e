import type * as t from 'io-ts';
import type { ValidationIssue } from './errors.js';
import { preview, strictProps } from './issues.js';

/**
 * True when every number the check looks at is finite. Made once per codec
 * by {@link finiteCheck}: it looks only where the codec's shape may hold a
 * number, so a payload without number fields costs nothing.
 */
export type FiniteCheck = (value: unknown) => boolean;

/** Codecs whose values hold no number. */
const NO_NUMBERS = new Set([
  'StringType',
  'BooleanType',
  'NullType',
  'UndefinedType',
  'VoidType',
  'LiteralType',
  'KeyofType',
  'NeverType',
  'BigIntType',
]);

/** Beyond this nesting of codecs, look at every number rather than follow the shape. */
const MAX_SHAPE_DEPTH = 32;
/** Beyond this nesting of values, stop (a value this deep or cyclic fails at serialization anyway). */
const MAX_VALUE_DEPTH = 256;

const isFiniteNumber: FiniteCheck = (value) => typeof value !== 'number' || Number.isFinite(value);

function allFinite(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null || depth > MAX_VALUE_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!allFinite(item, depth + 1)) return false;
    return true;
  }
  for (const key in value) if (!allFinite((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

type Shaped = { readonly _tag?: string; readonly type?: t.Mixed; readonly types?: readonly t.Mixed[] };

function fieldsCheck(props: t.Props, depth: number): FiniteCheck | undefined {
  const keys: string[] = [];
  const checks: FiniteCheck[] = [];
  // Plain number fields are checked inline; only the others call a nested check.
  const numbers: string[] = [];
  for (const [key, codec] of Object.entries(props)) {
    const check = finiteCheck(codec, depth + 1);
    if (check === isFiniteNumber) numbers.push(key);
    else if (check) {
      keys.push(key);
      checks.push(check);
    }
  }
  if (numbers.length === 0 && keys.length === 0) return undefined;
  return (value) => {
    if (typeof value !== 'object' || value === null) return true;
    const record = value as Record<string, unknown>;
    for (let i = 0; i < numbers.length; i++) {
      const field = record[numbers[i] as string];
      if (typeof field === 'number' && !Number.isFinite(field)) return false;
    }
    for (let i = 0; i < keys.length; i++) if (!(checks[i] as FiniteCheck)(record[keys[i] as string])) return false;
    return true;
  };
}

function eachItem(item: FiniteCheck | undefined): FiniteCheck | undefined {
  if (!item) return undefined;
  return (value) => {
    if (!Array.isArray(value)) return true;
    for (const entry of value) if (!item(entry)) return false;
    return true;
  };
}

function eachValue(check: FiniteCheck | undefined): FiniteCheck | undefined {
  if (!check) return undefined;
  return (value) => {
    if (typeof value !== 'object' || value === null) return true;
    for (const key in value) if (!check((value as Record<string, unknown>)[key])) return false;
    return true;
  };
}

function allOf(checks: readonly (FiniteCheck | undefined)[]): FiniteCheck | undefined {
  const present = checks.filter((check): check is FiniteCheck => check !== undefined);
  if (present.length <= 1) return present[0];
  return (value) => present.every((check) => check(value));
}

/**
 * A check that a value of `codec` (as encoded for the wire) holds no `NaN`
 * or `±Infinity`, which JSON cannot hold (it would store `null`); undefined
 * when the codec's shape holds no number at all. Follows io-ts's shapes
 * (objects, `strict`, arrays, records, tuples, unions, intersections,
 * refinements); where a shape says nothing (`t.unknown`, custom or
 * recursive codecs) it looks at every number.
 *
 * @example
 * const check = finiteCheck(strict({ id: t.string, price: t.number }));
 * check?.({ id: 'p1', price: Number.NaN }); // false
 */
export function finiteCheck(codec: t.Mixed, depth = 0): FiniteCheck | undefined {
  if (depth > MAX_SHAPE_DEPTH) return allFinite;
  const props = strictProps(codec);
  if (props) return fieldsCheck(props, depth);
  const shaped = codec as unknown as Shaped;
  const tag = shaped._tag ?? '';
  if (NO_NUMBERS.has(tag)) return undefined;
  switch (tag) {
    case 'NumberType':
      return isFiniteNumber;
    case 'InterfaceType':
    case 'PartialType':
    case 'StrictType':
      return fieldsCheck((codec as unknown as { props: t.Props }).props, depth);
    case 'ExactType':
    case 'ReadonlyType':
    case 'RefinementType':
      return finiteCheck(shaped.type as t.Mixed, depth + 1);
    case 'ArrayType':
    case 'ReadonlyArrayType':
      return eachItem(finiteCheck(shaped.type as t.Mixed, depth + 1));
    case 'DictionaryType':
      return eachValue(finiteCheck((codec as unknown as { codomain: t.Mixed }).codomain, depth + 1));
    case 'TupleType': {
      const items = (shaped.types ?? []).map((item) => finiteCheck(item, depth + 1));
      if (items.every((item) => item === undefined)) return undefined;
      return (value) => !Array.isArray(value) || items.every((item, i) => item === undefined || item(value[i]));
    }
    case 'UnionType':
    case 'IntersectionType':
      // Each member's check flags only numbers that are not finite: running all of them is safe for either.
      return allOf((shaped.types ?? []).map((member) => finiteCheck(member, depth + 1)));
    default:
      return allFinite;
  }
}

const EXPECTED = 'a finite number (JSON has no NaN or Infinity: it would store null)';

/**
 * One issue per number in `value` that is not finite, at its field path
 * under `path` (array items by index): what a failed {@link finiteCheck}
 * reports.
 *
 * @example
 * nonFiniteIssues({ price: Number.NaN }, 'data'); // [{ path: 'data.price', expected: 'a finite number …', actual: 'NaN' }]
 */
export function nonFiniteIssues(value: unknown, path: string): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const walk = (at: unknown, where: string, depth: number): void => {
    if (typeof at === 'number') {
      if (!Number.isFinite(at)) issues.push({ path: where, expected: EXPECTED, actual: preview(at) });
      return;
    }
    if (typeof at !== 'object' || at === null || depth > MAX_VALUE_DEPTH) return;
    if (Array.isArray(at)) for (let i = 0; i < at.length; i++) walk(at[i], `${where}.${i}`, depth + 1);
    else for (const key in at) walk((at as Record<string, unknown>)[key], `${where}.${key}`, depth + 1);
  };
  walk(value, path, 0);
  return issues;
}
