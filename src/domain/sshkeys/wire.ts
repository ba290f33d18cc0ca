/**
 * The SSH wire encoding (RFC 4251 §5) that public key blobs and the openssh-key-v1 private
 * format are built from: uint32 lengths, length-prefixed strings and mpints. The writer sizes
 * its buffer up front so that encoding a key costs one allocation, and the reader never reads
 * past the end of its input, so a truncated or hostile blob fails with a plain `WireError`
 * that the parser turns into a message for the user.
 */

/** A blob that does not follow the wire encoding; carries no input bytes in its message. */
export class WireError extends Error {}

/** Bytes an mpint takes on the wire, without its length prefix, for a big-endian magnitude. */
export function mpintLength(magnitude: Buffer): number {
  const start = firstNonZero(magnitude);
  if (start === magnitude.length) return 0;
  return magnitude.length - start + ((magnitude[start]! & 0x80) !== 0 ? 1 : 0);
}

function firstNonZero(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return i;
}

/** Bit length of a big-endian magnitude, as OpenSSL's BN_num_bits reports it. */
export function bitLength(magnitude: Buffer): number {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) return 0;
  return (magnitude.length - i - 1) * 8 + (32 - Math.clz32(magnitude[i]!));
}

/**
 * Writes into a buffer of a size the caller computed beforehand. Keeping the size computation
 * with the caller lets the hot ed25519 path allocate exactly once.
 */
export class WireWriter {
  readonly buf: Buffer;
  offset = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  uint32(value: number): this {
    this.buf.writeUInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  raw(bytes: Buffer | Uint8Array): this {
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  /** An ASCII string (key type and curve names, "none"); never user text. */
  ascii(text: string): this {
    this.uint32(text.length);
    this.offset += this.buf.write(text, this.offset, 'latin1');
    return this;
  }

  string(bytes: Buffer | Uint8Array): this {
    return this.uint32(bytes.length).raw(bytes);
  }

  /** A length-prefixed UTF-8 string (a key comment) whose byte length the caller measured. */
  utf8(text: string, byteLength: number): this {
    this.uint32(byteLength);
    if (this.buf.write(text, this.offset, byteLength, 'utf8') !== byteLength) {
      throw new Error('wire text length mismatch');
    }
    this.offset += byteLength;
    return this;
  }

  /**
   * Bytes given as unpadded base64url (a JWK member), decoded straight into place. They must
   * decode to exactly `length` bytes: Node's decoder skips stray characters instead of failing,
   * so the text length is checked as well as the count of bytes written.
   */
  base64url(text: string | undefined, length: number): this {
    if (text === undefined || text.length !== Math.ceil((length * 4) / 3)) {
      throw new Error('JWK export has a missing or malformed key component');
    }
    if (this.buf.write(text, this.offset, length, 'base64url') !== length) {
      throw new Error('JWK export has a malformed key component');
    }
    this.offset += length;
    return this;
  }

  /** A non-negative integer from its big-endian magnitude, minimal and sign-safe. */
  mpint(magnitude: Buffer): this {
    const start = firstNonZero(magnitude);
    const body = magnitude.subarray(start);
    const pad = body.length > 0 && (body[0]! & 0x80) !== 0;
    this.uint32(body.length + (pad ? 1 : 0));
    if (pad) this.buf[this.offset++] = 0;
    return this.raw(body);
  }

  /** The buffer, after checking the size estimate was exact so no stale bytes leak out. */
  finish(): Buffer {
    if (this.offset !== this.buf.length) {
      throw new Error(`wire size mismatch: wrote ${this.offset} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }
}

/** Reads wire fields from a blob, failing on any length that runs past the end. */
export class WireReader {
  private offset = 0;

  private readonly buf: Buffer;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  uint32(): number {
    if (this.remaining < 4) throw new WireError('the key data ends too early');
    const value = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  string(): Buffer {
    const length = this.uint32();
    if (length > this.remaining) throw new WireError('the key data ends too early');
    const value = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A string field that must be printable ASCII, such as a key type or curve name. */
  ascii(): string {
    const bytes = this.string();
    for (const byte of bytes) {
      if (byte < 0x20 || byte > 0x7e) throw new WireError('the key data holds an unreadable name');
    }
    return bytes.toString('latin1');
  }

  /**
   * A non-negative mpint as its magnitude. Negative or non-minimal encodings are refused, as
   * OpenSSH refuses them, so that one key has exactly one blob and one fingerprint.
   */
  mpint(): Buffer {
    const bytes = this.string();
    if (bytes.length === 0) return bytes;
    if ((bytes[0]! & 0x80) !== 0) throw new WireError('the key data holds a negative number');
    if (bytes[0] === 0 && (bytes.length === 1 || (bytes[1]! & 0x80) === 0)) {
      throw new WireError('the key data holds a badly encoded number');
    }
    return bytes[0] === 0 ? bytes.subarray(1) : bytes;
  }

  /** Fails when bytes are left over, since a valid blob is exactly its fields. */
  end(): void {
    if (this.remaining !== 0) throw new WireError('the key data has unexpected bytes at its end');
  }
}
