/**
 * tls-files: the PEM files of a TLS endpoint, read and checked before they are used. A gateway's
 * private key, certificate chain and client CA (`hab sup run --key/--certs/--ca-certs`,
 * `--ctl-server-key/--ctl-server-certificate/--ctl-client-ca-certificate`), and the CLI's CA and
 * client certificate (`HAB_CTL_SERVER_CA_CERTIFICATE`, `HAB_CTL_CLIENT_CERTIFICATE`,
 * `HAB_CTL_CLIENT_KEY`) all go through `readTlsFiles`, so that a wrong file is one message naming
 * the flag (or variable) and the file, the problem and what to do (issue 5), before anything
 * listens or connects, rather than a handshake that fails later for a reason nobody sees.
 *
 * What is refused: a file that is missing (NOT_FOUND), unreadable or a directory (IO, BAD_INPUT),
 * empty, or not a PEM of what its flag says (a swapped key and certificate are named as such); a
 * private key that others may read (`secret-file.ts`); a key that does not belong to the
 * certificate. A key or certificate without the other is the caller's to refuse (both parse
 * functions do, naming both flags). Messages carry OpenSSL's reason, never the file's bytes.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { MurmurError } from '../core/index.js';
import { checkSecretFileMode } from './secret-file.js';

/** One file and the flag or variable that named it (for messages). */
export interface TlsFileRef {
  path: string;
  /** `--key`, `HAB_CTL_CLIENT_KEY`, … */
  flag: string;
}

/** The files of one endpoint. `key` and `cert` go together; `ca` may stand alone (a client that only trusts a CA). */
export interface TlsFileRefs {
  key?: TlsFileRef | undefined;
  cert?: TlsFileRef | undefined;
  ca?: TlsFileRef | undefined;
}

/** The PEM bytes of the files given, checked. */
export interface TlsPems {
  key?: Buffer;
  cert?: Buffer;
  ca?: Buffer;
}

export interface ReadTlsOptions {
  /** How to read a file. @default fs.readFile */
  read?: (path: string) => Promise<Uint8Array>;
  /** Refuse a private key file that its group or other users may read or write. @default true */
  checkKeyMode?: boolean;
}

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Reads and checks the files in `refs`: each parses as what its flag says, the private key is
 * private to its owner, and the key belongs to the certificate. Throws a `MurmurError` naming the
 * flag and the file.
 */
export async function readTlsFiles(refs: TlsFileRefs, options: ReadTlsOptions = {}): Promise<TlsPems> {
  const read = options.read ?? ((p: string) => readFile(p));
  if ((refs.key === undefined) !== (refs.cert === undefined)) {
    const given = (refs.key ?? refs.cert) as TlsFileRef;
    throw new MurmurError(
      'BAD_INPUT',
      `${given.flag} ${given.path} was given without its ${refs.key ? 'certificate' : 'private key'}: a private key and its certificate go together; give both or neither`,
    );
  }
  const out: TlsPems = {};
  let key: KeyObject | undefined;
  let cert: X509Certificate | undefined;
  if (refs.key) {
    const pem = await readPem(refs.key, read);
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      const swapped = pem.includes(PEM_CERTIFICATE) ? ' (it holds a certificate: are the key and the certificate swapped?)' : '';
      throw notWhat(refs.key, `a PEM private key (PKCS#8, RSA or EC, unencrypted)${swapped}`, err);
    }
    // Once it is known to be a key: a certificate given by mistake is named as such instead.
    if (options.checkKeyMode ?? true) await checkSecretFileMode(refs.key.path, refs.key.flag);
    out.key = pem;
  }
  if (refs.cert) {
    const pem = await readPem(refs.cert, read);
    cert = parseCertificate(refs.cert, pem, 'a PEM certificate chain (leaf first)');
    out.cert = pem;
  }
  if (refs.ca) {
    const pem = await readPem(refs.ca, read);
    parseCertificate(refs.ca, pem, 'a PEM CA certificate');
    out.ca = pem;
  }
  if (refs.key && refs.cert && key && cert) {
    if (!cert.checkPrivateKey(key)) {
      throw new MurmurError(
        'BAD_INPUT',
        `${refs.key.flag} ${refs.key.path} does not match the certificate in ${refs.cert.flag} ${refs.cert.path}: give the private key that certificate was issued for`,
      );
    }
    try {
      createSecureContext({ key: out.key, cert: out.cert, ...(out.ca ? { ca: out.ca } : {}) });
    } catch (err) {
      throw new MurmurError('BAD_INPUT', `${refs.key.flag} ${refs.key.path} and ${refs.cert.flag} ${refs.cert.path} cannot be used together: ${reasonOf(err)}`, { cause: err });
    }
  }
  return out;
}

async function readPem(ref: TlsFileRef, read: (path: string) => Promise<Uint8Array>): Promise<Buffer> {
  let bytes: Uint8Array;
  try {
    bytes = await read(ref.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MurmurError('NOT_FOUND', `${ref.flag} ${ref.path}: no such file; give the path of a PEM file`, { cause: err });
    if (code === 'EISDIR') throw new MurmurError('BAD_INPUT', `${ref.flag} ${ref.path} is a directory: give the path of a PEM file`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') {
      throw new MurmurError('IO', `${ref.flag} ${ref.path}: cannot read it (${code}); make it readable by the user this runs as`, { cause: err });
    }
    throw new MurmurError('IO', `${ref.flag} ${ref.path}: cannot read it (${code ?? reasonOf(err)})`, { cause: err });
  }
  const pem = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (pem.toString('latin1').trim() === '') throw new MurmurError('BAD_INPUT', `${ref.flag} ${ref.path} is empty: give a PEM file`);
  return pem;
}

function parseCertificate(ref: TlsFileRef, pem: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    const swapped = PEM_PRIVATE_KEY.test(pem.toString('latin1')) && !pem.includes(PEM_CERTIFICATE) ? ' (it holds a private key: are the key and the certificate swapped?)' : '';
    throw notWhat(ref, `${what}${swapped}`, err);
  }
}

function notWhat(ref: TlsFileRef, what: string, err: unknown): MurmurError {
  return new MurmurError('BAD_INPUT', `${ref.flag} ${ref.path} is not ${what}: ${reasonOf(err)}`, { cause: err });
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
