#!/usr/bin/env node
// The `riverlog` command. A plain committed file (not build output) so that
// `npm install` / `npm ci` can link it before anything is built.
try {
  await import('../dist/bin.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !/[\\/]dist[\\/]/.test(String(error.message))) throw error;
  process.stderr.write(`riverlog: MISSING_DEPENDENCY: riverlog is not built (${error.message}); run \`npm run build\` first.\n`);
  process.exit(1);
}
