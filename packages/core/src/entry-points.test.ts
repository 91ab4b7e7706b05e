// Core's two faces: the user's API (`@riverlog/core`) and the backend authors' (`@riverlog/core/backend`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as backend from './backend.js';
import * as user from './index.js';

const backendOnly = [
  'checkReadOptions',
  'resolveStart',
  'invalidEnvelope',
  'sleep',
  'waitForChange',
  'readLineage',
  'readyPartitions',
  'envelopeFromKafkaRecord',
  'envelopeToKafkaRecord',
  'LeaseBalancer',
  'LocalAssignment',
  'timeSlice',
  'checkOptions',
  'decodeUtf8',
  'decodeKinesisData',
  'encodeKinesisAggregate',
  'checkCommit',
];

describe('entry points', () => {
  it('the backend entry has the helpers for backend authors', () => {
    for (const name of backendOnly) expect(backend, name).toHaveProperty(name);
  });

  it('the user entry exports none of them', () => {
    const leaked = Object.keys(backend).filter((name) => name in user);
    expect(leaked).toEqual([]);
  });

  it("the user entry keeps the user's API", () => {
    for (const name of [
      'defineCatalog',
      'defineEvent',
      'createEvent',
      'validateEvent',
      'decodeRecord',
      'optional',
      'strict',
      't',
      'RiverlogError',
      'memoryLog',
      'backoffPolicy',
      'ulid',
      'exportLog',
      'readEnds',
    ]) {
      expect(user, name).toHaveProperty(name);
    }
  });

  it('package.json exports both', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(pkg.exports['./backend']).toEqual({ types: './dist/backend.d.ts', default: './dist/backend.js' });
  });
});
