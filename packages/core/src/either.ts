// io-ts's results are fp-ts `Either`s; riverlog reads and builds them with these few functions
// instead of importing fp-ts at run time. Why: which build of fp-ts a bundler picks for our import
// (CommonJS `fp-ts/lib`, not tree-shakable, or the ES module build) would depend on the user's
// bundler settings, and Node's ESM loader accepts neither `fp-ts/Either` nor `fp-ts/es6/*`. With no
// import of ours, the only fp-ts in a bundle is what io-ts itself pulls in (docs/bundling.md).
// The values are fp-ts's own shape, so fp-ts's functions accept them.
import type { Either, Left } from 'fp-ts/lib/Either.js';

export type { Either, Left, Right } from 'fp-ts/lib/Either.js';

export const left = <E = never, A = never>(e: E): Either<E, A> => ({ _tag: 'Left', left: e });

export const right = <E = never, A = never>(a: A): Either<E, A> => ({ _tag: 'Right', right: a });

export const isLeft = <E>(ma: Either<E, unknown>): ma is Left<E> => ma._tag === 'Left';
