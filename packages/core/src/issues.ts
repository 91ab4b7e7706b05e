import * as t from 'io-ts';
import type { ValidationIssue } from './errors.js';

const MAX_ACTUAL = 60;

/** A value as short JSON for error messages. */
export function preview(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
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

/** io-ts errors as one issue per failing field path, each path once. */
/** Issues as one line: `data.brand: expected string, got 42; …`. */
export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: expected ${i.expected}, got ${i.actual}`).join('; ');
}

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

/**
 * An object codec that also refuses keys it does not declare, naming each
 * one: io-ts's own `t.type` accepts them and `t.exact` drops them silently.
 *
 * @example
 * const Product = strict({ id: t.string, name: t.string });
 * Product.decode({ id: '1', name: 'x', price: 3 }); // Left: price is not allowed
 */
export function strict<P extends t.Props>(props: P, name?: string): t.Type<t.TypeOf<t.TypeC<P>>, t.OutputOf<t.TypeC<P>>, unknown> {
  const base = t.type(props);
  const plain = Object.values(props).every((prop) => isIdentityCodec(prop));
  const allowed = new Set(Object.keys(props));
  const codecName = name ?? base.name;
  const codec = new t.Type(
    codecName,
    (u): u is t.TypeOf<t.TypeC<P>> => {
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
  return codec;
}

const identityCodecs = new WeakSet<t.Mixed>();

/**
 * True for codecs whose decoded value is the input itself (made by `strict`
 * from plain field codecs), so a passing `is` check may stand in for `validate`.
 */
export function isIdentityCodec(codec: t.Mixed): boolean {
  if (identityCodecs.has(codec)) return true;
  const tag = (codec as { _tag?: string })._tag;
  return tag === 'StringType' || tag === 'NumberType' || tag === 'BooleanType' || tag === 'UnknownType';
}
