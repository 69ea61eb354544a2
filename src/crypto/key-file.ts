/**
 * key-file: Habitat's text key format, parsed and written, with no I/O and no libsodium.
 *
 * A key file reads
 *
 *     SYM-SEC-1
 *     foo-20160504220722
 *
 *     RCFaO84j41GmrzWddxMdsXpGdn3iuIy7Mw3xYrjPLsE=
 *
 * a header naming the key type and format version, the key's name and revision, a blank line, and
 * the raw key bytes in standard base64 with padding. Habitat writes it with no trailing newline
 * (`KeyFile::to_key_string` in `components/core/src/crypto/keys.rs`); so does `formatKeyText`.
 * The revision is the UTC time the key was made, `YYYYMMDDhhmmss`, and the name is everything
 * before the last `-` that is followed by exactly 14 digits (`NAME_WITH_REV_RE`), so
 * `redis.default@acme-20160504220722` is the service key `redis.default@acme`.
 *
 * Parsing follows Habitat's `key_bits` (`crypto/keys/util.rs`) and is a little stricter where a
 * laxer reading could hide a damaged file: the third line must be blank, the base64 must be
 * canonical, and nothing but whitespace may follow the key. It is as lenient as Habitat about
 * line endings (CRLF) and surrounding whitespace, so any key Habitat wrote is read as is. Key
 * names are limited to characters that are safe in a file name, because the cache stores a key
 * as `<name>-<revision>.<extension>`.
 *
 * A parse error names the source (the file, `standard input`, `HAB_RING_KEY`) and the line and
 * what is wrong with it, and never quotes the text (issue 5: secrets never appear in errors): a
 * file whose name or blank line is missing has its base64 key on line 2 or 3, and a pasted key may
 * sit anywhere. Only a line 1 shaped like a header (`SYM-1`) is quoted; base64 has no `-`.
 */
import { MurmurError } from '../core/index.js';

/** What a header says about its key. */
export interface KeyFormat {
  /** For messages: "ring key", "secret signing key", … */
  readonly what: string;
  /** Secret keys are written 0600, public keys 0644. */
  readonly secret: boolean;
  /** Length of the raw key bytes. */
  readonly keyBytes: number;
  /** File name extension in the key cache (Habitat's `file_extension`), without the leading dot. */
  readonly extension: string;
}

/**
 * Every header murmur knows, with Habitat's key lengths (libsodium's `crypto_secretbox_KEYBYTES`,
 * `crypto_box_PUBLICKEYBYTES`/`SECRETKEYBYTES`, `crypto_sign_PUBLICKEYBYTES`/`SECRETKEYBYTES`) and
 * file extensions. Both public key types use `.pub`, as in Habitat: the header, not the file name,
 * tells them apart.
 */
export const KEY_FORMATS = {
  'SYM-SEC-1': { what: 'ring key', secret: true, keyBytes: 32, extension: 'sym.key' },
  'BOX-PUB-1': { what: 'public encryption key', secret: false, keyBytes: 32, extension: 'pub' },
  'BOX-SEC-1': { what: 'secret encryption key', secret: true, keyBytes: 32, extension: 'box.key' },
  'SIG-PUB-1': { what: 'public signing key', secret: false, keyBytes: 32, extension: 'pub' },
  'SIG-SEC-1': { what: 'secret signing key', secret: true, keyBytes: 64, extension: 'sig.key' },
} as const satisfies Record<string, KeyFormat>;

export type KeyHeader = keyof typeof KEY_FORMATS;

/** The header of ring keys, the symmetric key that seals all gossip. */
export const RING_KEY_HEADER = 'SYM-SEC-1' satisfies KeyHeader;

/** One key as a key file holds it. */
export interface KeyFile<H extends KeyHeader = KeyHeader> {
  header: H;
  /** `foo`, `redis.default@acme`, … */
  name: string;
  /** UTC `YYYYMMDDhhmmss`. */
  revision: string;
  /** The raw key bytes, `KEY_FORMATS[header].keyBytes` long. */
  key: Uint8Array;
}

export function isKeyHeader(text: string): text is KeyHeader {
  return Object.hasOwn(KEY_FORMATS, text);
}

// ---------------------------------------------------------------------------------------------
// Names and revisions
// ---------------------------------------------------------------------------------------------

/** Habitat's `NAME_WITH_REV_RE`: everything before the last `-` that is followed by 14 digits. */
const NAME_WITH_REVISION = /^(.+)-(\d{14})$/;

/**
 * Characters a key name may hold: those of ring, user, origin and service key names
 * (`redis.default@acme`), and nothing that could leave the key cache directory.
 */
const KEY_NAME = /^[A-Za-z0-9_.@-]+$/;

export interface NamedRevision {
  name: string;
  revision: string;
}

/**
 * `foo-20160504220722` → `{name: 'foo', revision: '20160504220722'}`, or a BAD_INPUT error.
 *
 * @param quote whether the error may quote `text`: yes for a command-line argument or a `BOX-1`
 *   payload's key names, no for a line of a key file, which may be the secret itself.
 *   @default true
 */
export function parseNamedRevision(text: string, source = 'key name', quote = true): NamedRevision {
  const match = NAME_WITH_REVISION.exec(text);
  if (match === null) {
    const what = quote ? `"${text}"` : looksLikeBase64Key(text) ? 'it looks like base64 key text (is the name line missing?) and' : 'it';
    throw new MurmurError(
      'BAD_INPUT',
      `${source}: ${what} is not <name>-<revision>: expected a name, a "-" and a 14-digit UTC revision (YYYYMMDDhhmmss), e.g. "foo-20160504220722"`,
    );
  }
  const [, name = '', revision = ''] = match;
  if (!KEY_NAME.test(name)) {
    throw new MurmurError(
      'BAD_INPUT',
      `${source}: key name ${quote ? `"${name}" ` : ''}may hold only letters, digits, "_", ".", "@" and "-"`,
    );
  }
  return { name, revision };
}

export function formatNamedRevision(key: NamedRevision): string {
  return `${key.name}-${key.revision}`;
}

/**
 * The revision for a key made at `date`: its UTC time as `YYYYMMDDhhmmss`, as Habitat's
 * `KeyRevision::new` formats `Utc::now()`.
 */
export function revisionFromDate(date: Date): string {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(year) || year < 0 || year > 9999) {
    throw new MurmurError('BAD_INPUT', `cannot make a key revision from the date ${String(date)}: the year must be 0 to 9999`);
  }
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    String(year).padStart(4, '0') +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds())
  );
}

/** The file name the key cache stores a key under: `<name>-<revision>.<extension>`. */
export function keyFileName(key: { header: KeyHeader } & NamedRevision): string {
  return `${formatNamedRevision(key)}.${KEY_FORMATS[key.header].extension}`;
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

export interface ParseKeyOptions {
  /** Names the text in error messages: a file path, `HAB_RING_KEY`, … @default 'key text' */
  source?: string;
  /** Refuse any other header (e.g. a box key handed in where a ring key is wanted). */
  expect?: KeyHeader;
}

const FORMAT_HINT = 'a key file is "<HEADER>\\n<name>-<revision>\\n\\n<base64 key>"';

/** Canonical standard base64 with padding; the decoded bytes are re-encoded to reject stray bits. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Parses key file text, or throws a BAD_INPUT `MurmurError` that says what is wrong and where. */
export function parseKeyText<H extends KeyHeader>(text: string, options: ParseKeyOptions & { expect: H }): KeyFile<H>;
export function parseKeyText(text: string, options?: ParseKeyOptions): KeyFile;
export function parseKeyText(text: string, options: ParseKeyOptions = {}): KeyFile {
  const source = options.source ?? 'key text';
  const bad = (message: string): MurmurError => new MurmurError('BAD_INPUT', `${source}: ${message}`);
  // CRLF and trailing spaces are tolerated on every line, as Rust's `str::lines` plus `trim` does.
  const lines = text.split('\n').map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const [headerLine, namedLine, blankLine, keyLine, ...rest] = lines;

  if (headerLine === undefined) throw bad(`is empty; ${FORMAT_HINT}`);
  const header = headerLine.trimStart();
  if (!isKeyHeader(header)) {
    const known = Object.keys(KEY_FORMATS).join(', ');
    // Quoted only when shaped like a header: never a line that may be key text.
    const found = HEADER_SHAPE.test(header) ? `unknown key header "${header}" on line 1` : 'line 1 is not a key header';
    throw bad(`${found}; expected one of ${known}`);
  }
  const format = KEY_FORMATS[header];
  if (options.expect !== undefined && header !== options.expect) {
    const wanted = KEY_FORMATS[options.expect];
    throw bad(`is a ${format.what} (${header}), not a ${wanted.what} (${options.expect})`);
  }

  if (namedLine === undefined || namedLine.trim() === '') {
    throw bad(`line 2 must be the key's <name>-<revision>, e.g. "foo-20160504220722"; ${FORMAT_HINT}`);
  }
  const { name, revision } = parseNamedRevision(namedLine.trim(), `${source}: line 2`, false);

  if (blankLine !== undefined && blankLine.trim() !== '') {
    throw bad(`line 3 must be blank, but it holds text (is the blank line before the key missing?); ${FORMAT_HINT}`);
  }
  if (keyLine === undefined) {
    throw bad(`the key is missing: line 3 must be blank and line 4 the base64 key; ${FORMAT_HINT}`);
  }

  const encoded = keyLine.trim();
  if (encoded === '') throw bad(`line 4 must hold the base64 key, but it is blank`);
  const key = decodeBase64(encoded);
  if (key === undefined) {
    throw bad(`line 4 is not valid base64 (standard alphabet A-Z a-z 0-9 + /, padded with "=")`);
  }
  if (key.length !== format.keyBytes) {
    throw bad(`the key is ${key.length} bytes, but a ${header} ${format.what} is ${format.keyBytes} bytes`);
  }
  if (rest.some((line) => line.trim() !== '')) {
    throw bad(`unexpected text after the key on line 5 or later; ${FORMAT_HINT}`);
  }
  return { header, name, revision, key };
}

/** Key file text exactly as Habitat writes it (no trailing newline). */
export function formatKeyText(key: KeyFile): string {
  const format = KEY_FORMATS[key.header];
  if (key.key.length !== format.keyBytes) {
    throw new MurmurError(
      'BAD_INPUT',
      `cannot write ${formatNamedRevision(key)}: a ${key.header} ${format.what} is ${format.keyBytes} bytes, this one is ${key.key.length}`,
    );
  }
  parseNamedRevision(formatNamedRevision(key));
  return `${key.header}\n${formatNamedRevision(key)}\n\n${Buffer.from(key.key.buffer, key.key.byteOffset, key.key.length).toString('base64')}`;
}

function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero bits in the last character's unused low bits decode fine but do not round-trip;
  // Rust's base64 crate (Habitat) rejects them, and so do we.
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes);
}

/**
 * What a header looks like (`SYM-SEC-1`, `SYM-1`): capitals and digits in dash-separated parts,
 * at most 15 characters. Standard base64 has no `-`, so no key text is ever this shape.
 */
const HEADER_SHAPE = /^(?=.{1,15}$)[A-Z0-9]+(?:-[A-Z0-9]+)+$/;

/** A line of 16 or more base64 characters: key text, as far as a message should care. */
function looksLikeBase64Key(text: string): boolean {
  return /^[A-Za-z0-9+/]{16,}={0,2}$/.test(text);
}
