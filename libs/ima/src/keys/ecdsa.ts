/**
 * @module keys/ecdsa: ECDSA verification of a *prehashed* value. IMA signatures are made over
 * the file digest (spec verifier.md §4.7, §13) and Node's crypto always hashes the message
 * itself, so the curve arithmetic is done here (Jacobian coordinates, Shamir's trick).
 */
import * as crypto from 'node:crypto';

interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly n: bigint;
  readonly nBits: number;
  readonly gx: bigint;
  readonly gy: bigint;
}

/** Domain parameters (SEC 2 / FIPS 186-4); G is taken from OpenSSL below so it cannot be mistyped. */
const PARAMS: Readonly<Record<string, { p: bigint; a: bigint; n: bigint; openssl: string }>> = {
  'P-256': {
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    a: -3n,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    openssl: 'prime256v1',
  },
  'P-384': {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    a: -3n,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    openssl: 'secp384r1',
  },
  'P-521': {
    p: 2n ** 521n - 1n,
    a: -3n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    openssl: 'secp521r1',
  },
  secp256k1: {
    p: 2n ** 256n - 2n ** 32n - 977n,
    a: 0n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    openssl: 'secp256k1',
  },
};

const curves = new Map<string, Curve>();

/** Curve by JWK `crv` name, or undefined if unsupported. */
export function ecCurve(crv: string): Curve | undefined {
  const cached = curves.get(crv);
  if (cached !== undefined) return cached;
  const params = PARAMS[crv];
  if (params === undefined) return undefined;
  // The public key of private key 1 is the generator.
  const ecdh = crypto.createECDH(params.openssl);
  const size = Math.ceil(params.n.toString(2).length / 8);
  const one = Buffer.alloc(size);
  one[size - 1] = 1;
  ecdh.setPrivateKey(one);
  const g = ecdh.getPublicKey();
  const half = (g.length - 1) / 2;
  const curve: Curve = {
    p: params.p,
    a: params.a,
    n: params.n,
    nBits: params.n.toString(2).length,
    gx: toBigInt(g.subarray(1, 1 + half)),
    gy: toBigInt(g.subarray(1 + half)),
  };
  curves.set(crv, curve);
  return curve;
}

export function toBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm (m prime, a ≠ 0). */
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

/** Jacobian point; Z = 0 is the point at infinity. */
type Jac = readonly [bigint, bigint, bigint];
const INF: Jac = [1n, 1n, 0n];

function dbl(c: Curve, P: Jac): Jac {
  const [X, Y, Z] = P;
  if (Z === 0n || Y === 0n) return INF;
  const p = c.p;
  const YY = mod(Y * Y, p);
  const S = mod(4n * X * YY, p);
  const ZZ = mod(Z * Z, p);
  const M = mod(3n * X * X + c.a * ZZ * ZZ, p);
  const X3 = mod(M * M - 2n * S, p);
  const Y3 = mod(M * (S - X3) - 8n * YY * YY, p);
  const Z3 = mod(2n * Y * Z, p);
  return [X3, Y3, Z3];
}

function add(c: Curve, P: Jac, Q: Jac): Jac {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const p = c.p;
  const [X1, Y1, Z1] = P;
  const [X2, Y2, Z2] = Q;
  const Z1Z1 = mod(Z1 * Z1, p);
  const Z2Z2 = mod(Z2 * Z2, p);
  const U1 = mod(X1 * Z2Z2, p);
  const U2 = mod(X2 * Z1Z1, p);
  const S1 = mod(Y1 * Z2 * Z2Z2, p);
  const S2 = mod(Y2 * Z1 * Z1Z1, p);
  if (U1 === U2) return S1 === S2 ? dbl(c, P) : INF;
  const H = mod(U2 - U1, p);
  const R = mod(S2 - S1, p);
  const HH = mod(H * H, p);
  const HHH = mod(H * HH, p);
  const V = mod(U1 * HH, p);
  const X3 = mod(R * R - HHH - 2n * V, p);
  const Y3 = mod(R * (V - X3) - S1 * HHH, p);
  const Z3 = mod(H * Z1 * Z2, p);
  return [X3, Y3, Z3];
}

/** u1·G + u2·Q with one shared doubling chain. */
function shamir(c: Curve, u1: bigint, u2: bigint, Q: Jac): Jac {
  const G: Jac = [c.gx, c.gy, 1n];
  const GQ = add(c, G, Q);
  let R: Jac = INF;
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    R = dbl(c, R);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(c, R, GQ);
    else if (b1) R = add(c, R, G);
    else if (b2) R = add(c, R, Q);
  }
  return R;
}

/** Parses a DER ECDSA-Sig-Value into (r, s), strictly. */
export function parseDerSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  if (sig.length < 8 || sig[0] !== 0x30) return undefined;
  let pos = 2;
  let total = sig[1] as number;
  if (total === 0x81) {
    total = sig[2] as number;
    pos = 3;
  } else if (total > 0x80) {
    return undefined;
  }
  if (pos + total !== sig.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (sig[pos] !== 0x02) return undefined;
    const len = sig[pos + 1] as number;
    if (len === 0 || len > 0x7f || pos + 2 + len > sig.length) return undefined;
    ints.push(toBigInt(sig.subarray(pos + 2, pos + 2 + len)));
    pos += 2 + len;
  }
  if (pos !== sig.length) return undefined;
  return { r: ints[0] as bigint, s: ints[1] as bigint };
}

/** Verifies a DER ECDSA signature over an already computed digest. */
export function verifyEcdsaPrehashed(
  crv: string,
  qx: bigint,
  qy: bigint,
  digest: Uint8Array,
  derSignature: Uint8Array,
): boolean {
  const c = ecCurve(crv);
  const rs = parseDerSignature(derSignature);
  if (c === undefined || rs === undefined) return false;
  const { r, s } = rs;
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  let e = toBigInt(digest);
  const excess = digest.length * 8 - c.nBits;
  if (excess > 0) e >>= BigInt(excess);
  const w = inv(s, c.n);
  const u1 = mod(e * w, c.n);
  const u2 = mod(r * w, c.n);
  const P = shamir(c, u1, u2, [qx, qy, 1n]);
  if (P[2] === 0n) return false;
  const zInv = inv(P[2], c.p);
  const x = mod(P[0] * zInv * zInv, c.p);
  return mod(x, c.n) === r;
}
