import { constants, createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';

/** The Storage a Logto SDK client persists tokens and the sign-in session in (in memory here). */
export class MemoryStorage<Key extends string = string> {
  readonly items = new Map<Key, string>();
  async getItem(key: Key): Promise<string | null> {
    return this.items.get(key) ?? null;
  }
  async setItem(key: Key, value: string): Promise<void> {
    this.items.set(key, value);
  }
  async removeItem(key: Key): Promise<void> {
    this.items.delete(key);
  }
}

/**
 * A URL built the way the Logto Go SDK builds its sign-in and sign-out URLs: url.Values.Encode()
 * (keys sorted) then url.QueryUnescape, so values go out raw: literal spaces, raw `://`.
 */
export function goUnescapedUrl(endpoint: string, params: [string, string][]): string {
  const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${endpoint}?${sorted.map(([key, value]) => `${key}=${value}`).join('&')}`;
}

/** What a browser sends for a Location/href: the WHATWG URL serialisation (spaces become %20). */
export function asBrowserSends(raw: string): { href: string; path: string } {
  const url = new URL(raw);
  return { href: url.href, path: `${url.pathname}${url.search}` };
}

/** Go's request.SetBasicAuth: base64 of "id:secret", no form-encoding. */
export function goBasicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export function decodeJwt(token: string): DecodedJwt {
  const [header, payload] = token.split('.');
  if (!header || !payload) throw new Error(`not a JWT: ${token.slice(0, 40)}`);
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

const HASHES: Record<string, string> = { RS256: 'sha256', ES256: 'sha256', PS256: 'sha256', EdDSA: '' };

/** Checks the signature against the JWKS by the header's kid; returns the decoded token. */
export function verifyJwt(token: string, jwks: { keys: (JsonWebKey & { kid?: string })[] }): DecodedJwt {
  const decoded = decodeJwt(token);
  const { kid, alg } = decoded.header;
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`kid ${String(kid)} is not in the JWKS`);
  if (typeof alg !== 'string' || !(alg in HASHES)) throw new Error(`unexpected alg ${String(alg)}`);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verifySignature(
    HASHES[alg] || null,
    Buffer.from(`${header}.${payload}`),
    alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : alg.startsWith('PS') ? { key, padding: constants.RSA_PKCS1_PSS_PADDING } : key,
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) throw new Error('JWT signature does not verify');
  return decoded;
}
