/**
 * Whether 32 bytes are an Ed25519 public key that a signature can be checked against: the
 * check libsodium's crypto_core_ed25519_is_valid_point makes, written with BigInt. OpenSSL
 * imports any 32 bytes as an Ed25519 key, and some of them are degenerate: under the
 * identity point, a signature with R = identity and S = 0 verifies for every message, and
 * the other points of small order are as bad for a cofactored verifier. A key made by
 * ssh-keygen (or any Ed25519 implementation) is a multiple of the base point, so it is
 * canonically encoded, on the curve, of the large prime order, and never small.
 *
 * This is public data and runs once per import, so nothing here needs to be constant time.
 */

/** The field prime, 2^255 - 19. */
const P = 2n ** 255n - 19n;
/** The order of the prime-order subgroup, 2^252 + 27742317777372353535851937790883648493. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

const invert = (a: bigint): bigint => pow(a, P - 2n);
/** The curve constant d = -121665/121666. */
const D = mod(-121665n * invert(121666n));
const D2 = mod(2n * D);
/** A square root of -1, used when the first candidate root is off by that factor. */
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** A point in extended coordinates: x = X/Z, y = Y/Z, x·y = T/Z. */
interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

/**
 * Adds two points (Hisil, Wong, Carter and Dawson's formulas for a = -1). They are complete
 * on edwards25519, so the same formulas double a point and handle the identity.
 */
function add(p: Point, q: Point): Point {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * D2 * q.T);
  const d = mod(2n * p.Z * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function multiply(point: Point, scalar: bigint): Point {
  let result = IDENTITY;
  for (let bit = BigInt(scalar.toString(2).length - 1); bit >= 0n; bit--) {
    result = add(result, result);
    if ((scalar >> bit) & 1n) result = add(result, point);
  }
  return result;
}

const isIdentity = (p: Point): boolean => mod(p.X) === 0n && mod(p.Y - p.Z) === 0n;

/** Why a key is unusable, in words that finish "The Ed25519 key is not valid: its point is …". */
export type Ed25519PointProblem =
  | 'not canonically encoded'
  | 'not on the curve'
  | 'of small order'
  | 'outside the prime-order subgroup';

/**
 * What is wrong with a 32-byte Ed25519 public key, or undefined when nothing is. The bytes
 * are y, little-endian, with the sign of x in the top bit (RFC 8032, section 5.1.3).
 */
export function ed25519PointProblem(encoded: Uint8Array): Ed25519PointProblem | undefined {
  if (encoded.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(encoded[i]!);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  // y and y + p would name the same point; only the reduced one is an encoding.
  if (y >= P) return 'not canonically encoded';

  // x² = (y² - 1) / (d·y² + 1); the denominator is never zero, since d is not a square.
  const yy = mod(y * y);
  const xx = mod((yy - 1n) * invert(mod(D * yy + 1n)));
  let x = pow(xx, (P + 3n) / 8n);
  if (mod(x * x - xx) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - xx) !== 0n) return 'not on the curve';
  // With x = 0 there is no negative to choose, so a set sign bit is a second spelling.
  if (x === 0n && sign === 1n) return 'not canonically encoded';
  if ((x & 1n) !== sign) x = P - x;

  const point: Point = { X: x, Y: y, Z: 1n, T: mod(x * y) };
  if (isIdentity(multiply(point, 8n))) return 'of small order';
  if (!isIdentity(multiply(point, L))) return 'outside the prime-order subgroup';
  return undefined;
}
