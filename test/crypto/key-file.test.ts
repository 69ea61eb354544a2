import { describe, expect, test } from 'vitest';
import { MurmurError } from '../../src/core/index.js';
import {
  KEY_FORMATS,
  formatKeyText,
  keyFileName,
  parseKeyText,
  parseNamedRevision,
  revisionFromDate,
  type KeyFile,
} from '../../src/crypto/index.js';

/** Bytes 0..31, base64. */
const KEY_0_31 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const bytes = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

/**
 * A key file as real Habitat writes it: Habitat's own test fixture
 * `components/core/fixtures/keys/ring-key-valid-20160504220722.sym.key`, byte for byte.
 */
const HABITAT_RING_KEY_TEXT =
  'SYM-SEC-1\nring-key-valid-20160504220722\n\nRCFaO84j41GmrzWddxMdsXpGdn3iuIy7Mw3xYrjPLsE=';
const HABITAT_RING_KEY_HEX = '44215a3bce23e351a6af359d77131db17a46767de2b88cbb330df162b8cf2ec1';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The BAD_INPUT message `parseKeyText` throws for `text`. */
function parseError(text: string): string {
  try {
    parseKeyText(text, { source: 'test.key' });
  } catch (err) {
    expect(err).toBeInstanceOf(MurmurError);
    expect((err as MurmurError).code).toBe('BAD_INPUT');
    return (err as MurmurError).message;
  }
  throw new Error('expected parseKeyText to throw');
}

describe('Habitat key text', () => {
  test('a hand-written Habitat-format ring key parses', () => {
    const key = parseKeyText(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}`);
    expect(key).toEqual({ header: 'SYM-SEC-1', name: 'foo', revision: '20160504220722', key: bytes(32) });
  });

  test("Habitat's own ring key fixture parses to its documented bytes", () => {
    const key = parseKeyText(HABITAT_RING_KEY_TEXT, { expect: 'SYM-SEC-1' });
    expect(key.name).toBe('ring-key-valid');
    expect(key.revision).toBe('20160504220722');
    expect(hex(key.key)).toBe(HABITAT_RING_KEY_HEX);
  });

  test('formatting a parsed Habitat key gives back the same text, with no trailing newline', () => {
    expect(formatKeyText(parseKeyText(HABITAT_RING_KEY_TEXT))).toBe(HABITAT_RING_KEY_TEXT);
  });

  test('every key type round-trips through text', () => {
    for (const [header, format] of Object.entries(KEY_FORMATS)) {
      const key = { header, name: 'redis.default@acme', revision: '20240229235959', key: bytes(format.keyBytes, 7) } as KeyFile;
      expect(parseKeyText(formatKeyText(key))).toEqual(key);
    }
  });

  test('a trailing newline, trailing spaces and CRLF line endings are accepted', () => {
    const expected = parseKeyText(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}`);
    expect(parseKeyText(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}\n`)).toEqual(expected);
    expect(parseKeyText(`SYM-SEC-1  \nfoo-20160504220722 \n \n${KEY_0_31}  \n\n  \n`)).toEqual(expected);
    expect(parseKeyText(`SYM-SEC-1\r\nfoo-20160504220722\r\n\r\n${KEY_0_31}\r\n`)).toEqual(expected);
  });

  test('the name is everything before the last "-" that precedes 14 digits', () => {
    expect(parseNamedRevision('an-origin-19690114010203')).toEqual({ name: 'an-origin', revision: '19690114010203' });
    expect(parseNamedRevision('tnt.default@acme-19480531051223')).toEqual({
      name: 'tnt.default@acme',
      revision: '19480531051223',
    });
    expect(() => parseNamedRevision('barf')).toThrow(/not <name>-<revision>/);
    expect(() => parseNamedRevision('barf-20160504220722-wheee')).toThrow(/not <name>-<revision>/);
    expect(() => parseNamedRevision('barf-123')).toThrow(/not <name>-<revision>/);
  });

  test('the file name is <name>-<revision>.<extension> of the key type', () => {
    const named = { name: 'foo', revision: '20160504220722' };
    expect(keyFileName({ header: 'SYM-SEC-1', ...named })).toBe('foo-20160504220722.sym.key');
    expect(keyFileName({ header: 'BOX-SEC-1', ...named })).toBe('foo-20160504220722.box.key');
    expect(keyFileName({ header: 'BOX-PUB-1', ...named })).toBe('foo-20160504220722.pub');
    expect(keyFileName({ header: 'SIG-SEC-1', ...named })).toBe('foo-20160504220722.sig.key');
    expect(keyFileName({ header: 'SIG-PUB-1', ...named })).toBe('foo-20160504220722.pub');
  });
});

describe('malformed key text is refused with a precise message', () => {
  test('empty text', () => {
    expect(parseError('')).toMatch(/^test\.key: is empty/);
    expect(parseError('\n\n  \n')).toMatch(/is empty/);
  });

  test('an unknown header, including the SYM-1 of Habitat’s old doc comments', () => {
    expect(parseError(`SYM-1\nfoo-20160504220722\n\n${KEY_0_31}`)).toMatch(
      /unknown key header "SYM-1" on line 1; expected one of SYM-SEC-1, BOX-PUB-1, BOX-SEC-1, SIG-PUB-1, SIG-SEC-1/,
    );
  });

  test('a header other than the one expected', () => {
    expect(() => parseKeyText(`BOX-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}`, { expect: 'SYM-SEC-1' })).toThrow(
      /is a secret encryption key \(BOX-SEC-1\), not a ring key \(SYM-SEC-1\)/,
    );
  });

  test('a missing or bad name-revision', () => {
    expect(parseError('SYM-SEC-1\n')).toMatch(/line 2 must be the key's <name>-<revision>/);
    // Lines of a key file are never quoted: line 2 may be the key itself.
    expect(parseError(`SYM-SEC-1\nim-in-trouble-123\n\n${KEY_0_31}`)).toMatch(/line 2: it is not <name>-<revision>/);
    expect(parseError(`SYM-SEC-1\n../etc-20160504220722\n\n${KEY_0_31}`)).toMatch(/line 2: key name may hold only/);
    expect(parseError(`SYM-SEC-1\n${KEY_0_31}`)).toMatch(/line 2: it looks like base64 key text \(is the name line missing\?\)/);
  });

  test('a missing blank line or missing key', () => {
    expect(parseError(`SYM-SEC-1\nfoo-20160504220722\n${KEY_0_31}`)).toMatch(/line 3 must be blank, but it holds text \(is the blank line before the key missing\?\)/);
    expect(parseError('SYM-SEC-1\nfoo-20160504220722\n\n')).toMatch(/the key is missing/);
  });

  test('bad base64', () => {
    expect(parseError('SYM-SEC-1\nfoo-20160504220722\n\nnot base64!')).toMatch(/line 4 is not valid base64/);
    expect(parseError(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31.slice(0, -1)}`)).toMatch(/not valid base64/);
    // Same length, but stray bits in the last character: does not round-trip.
    expect(parseError(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31.slice(0, -2)}f=`)).toMatch(/not valid base64/);
  });

  test('a key of the wrong length for its header', () => {
    const short = Buffer.from(bytes(31)).toString('base64');
    expect(parseError(`SYM-SEC-1\nfoo-20160504220722\n\n${short}`)).toMatch(
      /the key is 31 bytes, but a SYM-SEC-1 ring key is 32 bytes/,
    );
    expect(parseError(`SIG-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}`)).toMatch(/SIG-SEC-1 secret signing key is 64 bytes/);
  });

  test('text after the key', () => {
    expect(parseError(`SYM-SEC-1\nfoo-20160504220722\n\n${KEY_0_31}\nmore`)).toMatch(/unexpected text after the key/);
  });
});

describe('key revisions', () => {
  test('a revision is the UTC time as YYYYMMDDhhmmss', () => {
    expect(revisionFromDate(new Date('2016-05-04T22:07:22.999Z'))).toBe('20160504220722');
    expect(revisionFromDate(new Date('2016-05-04T23:07:22+01:00'))).toBe('20160504220722');
    expect(revisionFromDate(new Date('0999-01-02T03:04:05Z'))).toBe('09990102030405');
  });

  test('an invalid date is refused', () => {
    expect(() => revisionFromDate(new Date(Number.NaN))).toThrow(MurmurError);
  });
});
