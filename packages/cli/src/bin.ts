#!/usr/bin/env node
import { main } from './program.js';

const code = await main(process.argv);
// Let stdout drain, then leave even if a client library keeps a socket or timer open.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
