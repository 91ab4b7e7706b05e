import { describe, expect, it } from 'vitest';
import { checkOptions, closestName } from './options.js';

describe('checkOptions', () => {
  const known = ['log', 'catalog', 'group', 'deadLetters', 'batchSize'];

  it('accepts known options, in any number', () => {
    expect(() => checkOptions('createConsumer', { log: 1, group: 'g' }, known)).not.toThrow();
    expect(() => checkOptions('createConsumer', {}, known)).not.toThrow();
  });

  it('refuses an unknown option with INVALID_OPTION, naming the closest known name and the list', () => {
    let error: unknown;
    try {
      checkOptions('createConsumer', { log: 1, deadLetter: {} }, known);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_OPTION' });
    expect((error as Error).message).toBe(
      'createConsumer: unknown option "deadLetter"; did you mean "deadLetters"? Known options: log, catalog, group, deadLetters, batchSize.',
    );
    expect(() => checkOptions('createConsumer', { maxBatch: 10 }, known)).toThrow(/unknown option "maxBatch"\. Known options/);
  });

  it('refuses options that are not an object', () => {
    expect(() => checkOptions('runView', null, known)).toThrow(/options must be an object, got null/);
    expect(() => checkOptions('runView', [], known)).toThrow(/got an array/);
    expect(() => checkOptions('runView', 'x', known)).toThrow(/got string/);
  });
});

describe('closestName', () => {
  it('suggests only names close enough to be a misspelling, ignoring case', () => {
    expect(closestName('batchsize', ['batchSize', 'log'])).toBe('batchSize');
    expect(closestName('grup', ['group', 'log'])).toBe('group');
    expect(closestName('somethingElse', ['group', 'log'])).toBeUndefined();
  });
});
