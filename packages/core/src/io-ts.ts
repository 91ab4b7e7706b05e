// `@riverlog/core/io-ts`: io-ts, for `import * as t from '@riverlog/core/io-ts'`. The same io-ts as the `t`
// of `@riverlog/core`, but a bundler can keep only the codecs a program uses: esbuild turns a re-exported
// namespace (`export * as t`) into an object holding every export of io-ts (+10 KB minified in a Lambda
// bundle; docs/bundling.md), while `import * as t` of this module's `export *` is followed name by name.
export * from 'io-ts';
