// The esbuild recipe of docs/bundling.md, as code: the test and the bench bundle with exactly these options.
// Keep this and the doc in step (test/bundle/bundle.test.ts checks the doc quotes it).
import { build } from 'esbuild';

/** The one setting riverlog needs: ES module builds first, so io-ts's and fp-ts's `module` builds are picked. */
export const recipe = { mainFields: ['module', 'main'] };

/** A Lambda bundle as SAM and CDK make one (Node, AWS SDK external: the runtime has it), with the recipe or without. */
export async function bundleHandler({ entry, outfile, withRecipe = true, format = 'esm' }) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    minify: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    logLevel: 'silent',
    ...(withRecipe ? recipe : {}),
  });
  return { bytes: Object.values(result.metafile.outputs)[0].bytes, ...split(result.metafile) };
}

/** Bytes of the output per origin, from esbuild's metafile; riverlog's also per package (`byPackage.core`, …). */
function split(metafile) {
  const output = Object.values(metafile.outputs)[0];
  const parts = { riverlog: 0, fpTs: 0, ioTs: 0, other: 0 };
  const byPackage = {};
  const inputs = [];
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    if (bytesInOutput === 0) continue;
    inputs.push(path);
    const riverlog = /(?:^|\/)packages\/([^/]+)\/dist\//.exec(path) ?? /node_modules\/@riverlog\/([^/]+)\//.exec(path);
    if (riverlog) {
      parts.riverlog += bytesInOutput;
      byPackage[riverlog[1]] = (byPackage[riverlog[1]] ?? 0) + bytesInOutput;
    } else if (path.includes('node_modules/fp-ts/')) parts.fpTs += bytesInOutput;
    else if (path.includes('node_modules/io-ts/')) parts.ioTs += bytesInOutput;
    else parts.other += bytesInOutput;
  }
  return { parts, byPackage, inputs };
}
