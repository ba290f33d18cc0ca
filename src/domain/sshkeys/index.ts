/**
 * berth's SSH key module: generating key pairs in OpenSSH formats, parsing the public keys
 * users import, and the fingerprints both share. Everything here is pure: values in,
 * values out, no I/O. Callers import from this file rather than the modules behind it.
 */
export { hasControlCharacters } from './comment.ts';
export { fingerprintMd5, fingerprintSha256 } from './fingerprint.ts';
export {
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  MAX_COMMENT_LENGTH,
  publicKeyLine,
  RSA_KEY_BITS,
  type RsaKeyBits,
  SSH_KEY_ALGORITHMS,
  type SshKeyAlgorithm,
} from './generate.ts';
export {
  MAX_PUBLIC_KEY_INPUT_BYTES,
  MIN_RSA_BITS,
  type ParsedPublicKey,
  type PublicKeyAlgorithm,
  parsePublicKey,
} from './parse.ts';
