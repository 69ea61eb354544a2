/**
 * crypto: Habitat's keys and murmur's ring envelope, over libsodium (libsodium-wrappers).
 *
 * - `sodium.ts`: the one `await sodium.ready`; everything else takes the loaded module.
 * - `key-file.ts`: Habitat's text key format (`SYM-SEC-1`, `BOX-*-1`, `SIG-*-1`), pure.
 * - `key-cache.ts`: the key cache directory (`HAB_CACHE_KEY_PATH`, `$FS_ROOT/hab/cache/keys`):
 *   generate, import, export, latest revision; the layer's only file I/O.
 * - `origin-key.ts`: origin signing key pairs (`SIG-SEC-1`, `SIG-PUB-1`), which sign `.hart` packages.
 * - `box-key.ts`: user and service encryption key pairs (`BOX-SEC-1`, `BOX-PUB-1`).
 * - `box.ts`: the `BOX-1` payload a user seals a config or file in for a service group.
 * - `ring.ts`: the `Keyring` and the sealed envelope around every datagram and stream frame.
 * - `secret-file.ts`: the refusal of a secret file that other users may read (`chmod 600`).
 * - `tls-files.ts`: TLS keys, certificates and CAs (gateways, the CLI), read and checked before use.
 *
 * Start reading at `ring.ts` for the wire, `key-file.ts` for compatibility with Habitat.
 */
export { loadSodium, type Sodium } from './sodium.js';
export {
  KEY_FORMATS,
  RING_KEY_HEADER,
  formatKeyText,
  formatNamedRevision,
  isKeyHeader,
  keyFileName,
  parseKeyText,
  parseNamedRevision,
  revisionFromDate,
  type KeyFile,
  type KeyFormat,
  type KeyHeader,
  type NamedRevision,
  type ParseKeyOptions,
} from './key-file.js';
export {
  exportRingKey,
  generateRingKey,
  importKey,
  keyCachePath,
  keyRevisions,
  latestRingKey,
  readKeyFile,
  readSecretKeyFile,
  ringKeyRevisions,
  validateRingKeyName,
  writeNewKey,
  type Env,
  type ImportResult,
  type RingKeyFile,
  type StoredKey,
} from './key-cache.js';
export {
  ORIGIN_PUBLIC_HEADER,
  ORIGIN_SECRET_HEADER,
  exportOriginKey,
  generateOriginKeyPair,
  latestOriginPublicKey,
  latestOriginSecretKey,
  originPublicKey,
  validateOriginName,
  type OriginKeyPair,
  type OriginPublicKey,
  type OriginSecretKey,
} from './origin-key.js';
export {
  BOX_PUBLIC_HEADER,
  BOX_SECRET_HEADER,
  boxKey,
  exportBoxKey,
  generateCommand,
  generateServiceKeyPair,
  generateUserKeyPair,
  isServiceKeyName,
  latestBoxPublicKey,
  latestBoxSecretKey,
  serviceKeyName,
  validateUserName,
  type BoxKeyOwner,
  type BoxKeyPair,
  type BoxPublicKey,
  type BoxSecretKey,
} from './box-key.js';
export {
  BOX1_HEADER,
  BOX_MAC_BYTES,
  BOX_NONCE_BYTES,
  BoxOpenError,
  encryptBox1,
  formatBox1,
  looksLikeBox1,
  openBox1,
  openBox1With,
  parseBox1,
  sealBox1WithNonce,
  type Box1,
  type BoxOpenReason,
  type SealingKeys,
} from './box.js';
export {
  ENVELOPE_MAGIC,
  KEY_ID_BYTES,
  Keyring,
  MAC_BYTES,
  NONCE_BYTES,
  RING_KEY_BYTES,
  SEALED_VERSION,
  SEAL_OVERHEAD,
  UNSEALED_OVERHEAD,
  UNSEALED_VERSION,
  createKeyring,
  ringKeyId,
  sealWithNonce,
  type OpenError,
  type OpenErrorCode,
  type OpenResult,
  type RingKey,
  type RingKeyInfo,
} from './ring.js';
export { checkSecretFileMode, SECRET_FILE_FORBIDDEN_BITS, SecretFileModeError } from './secret-file.js';
export { readTlsFiles, type ReadTlsOptions, type TlsFileRef, type TlsFileRefs, type TlsPems } from './tls-files.js';
