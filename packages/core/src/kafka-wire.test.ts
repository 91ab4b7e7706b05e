import { describe, expect, it } from 'vitest';
import { envelopeFromKafkaRecord } from './kafka-wire.js';

const envelope = {
  specversion: '1.0',
  id: '01HX0000000000000000000000',
  type: 'product/create',
  source: 'shop',
  subject: 'p1',
  time: '2024-05-01T10:00:00.000Z',
  dataschema: 'urn:riverlog:product/create/v1',
  data: { id: 'p1', name: 'Boot' },
  correlationid: 'c-1',
};

describe('envelopeFromKafkaRecord', () => {
  it('reads structured mode: the value is the envelope', () => {
    const value = Buffer.from(JSON.stringify(envelope));
    expect(
      envelopeFromKafkaRecord({ key: Buffer.from('p1'), value, headers: { 'content-type': Buffer.from('application/cloudevents+json') } }),
    ).toEqual({
      event: envelope,
    });
    expect(envelopeFromKafkaRecord({ value: JSON.stringify(envelope) })).toEqual({ event: envelope });
  });

  it('reads binary mode: ce_ headers, content-type and the data as value', () => {
    const { data, ...attributes } = envelope;
    const headers = Object.fromEntries(Object.entries(attributes).map(([name, value]) => [`ce_${name}`, Buffer.from(value)]));
    const stored = envelopeFromKafkaRecord({
      key: Buffer.from('p1'),
      value: Buffer.from(JSON.stringify(data)),
      headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(stored).toEqual({ event: { ...envelope, datacontenttype: 'application/json; charset=utf-8' } });
  });

  it('takes the subject from the key when binary mode has no ce_subject, and the last of repeated headers', () => {
    const stored = envelopeFromKafkaRecord({
      key: 'p9',
      value: '{"id":"p9"}',
      headers: { ce_specversion: '1.0', ce_type: [Buffer.from('old/type'), Buffer.from('product/purchase')] },
    });
    expect(stored).toEqual({ event: { specversion: '1.0', type: 'product/purchase', subject: 'p9', data: { id: 'p9' } } });
  });

  it('says why a record is not an envelope, keeping its text', () => {
    expect(envelopeFromKafkaRecord({ value: '{"oops' })).toMatchObject({
      event: undefined,
      raw: '{"oops',
      error: expect.stringContaining('record value is not JSON'),
    });
    expect(envelopeFromKafkaRecord({ value: null })).toEqual({ event: undefined, raw: '', error: 'record has no value (a tombstone?)' });
    expect(envelopeFromKafkaRecord({ value: '[1,2]' })).toEqual({
      event: undefined,
      raw: '[1,2]',
      error: 'record value is JSON but not an object, so not a CloudEvents envelope',
    });
    expect(envelopeFromKafkaRecord({ value: 'hello', headers: { ce_specversion: '1.0', 'content-type': 'text/plain' } })).toEqual({
      event: undefined,
      raw: 'hello',
      error: 'binary-mode data has content type "text/plain"; riverlog events carry JSON data',
    });
    expect(envelopeFromKafkaRecord({ value: '{', headers: { ce_specversion: '1.0' } })).toMatchObject({
      error: expect.stringContaining('binary-mode data is not JSON'),
    });
  });

  it('refuses invalid UTF-8 in the value or a header, naming the byte, and keeps the text for the dead letter', () => {
    const value = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expect(envelopeFromKafkaRecord({ value, timestamp: '1714557600000' })).toEqual({
      event: undefined,
      raw: value.toString('utf8'),
      error: 'Invalid UTF-8 in record value at byte 8: refused rather than replaced with U+FFFD.',
      storedAt: 1714557600000,
    });
    const header = envelopeFromKafkaRecord({ value: '{}', headers: { ce_specversion: '1.0', ce_type: Buffer.from([0xff]) } });
    expect(header.error).toBe('Invalid UTF-8 in header ce_type at byte 0: refused rather than replaced with U+FFFD.');
  });

  it('keeps the record timestamp as storedAt', () => {
    expect(envelopeFromKafkaRecord({ value: JSON.stringify(envelope), timestamp: '1714557600000' })).toEqual({
      event: envelope,
      storedAt: 1714557600000,
    });
  });
});
