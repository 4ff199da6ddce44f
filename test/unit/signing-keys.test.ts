import { describe, expect, it } from 'vitest';
import { inSigningOrder, KEY_PROPAGATION_MS, PUBLISHED_BEFORE_SIGNING_MS, publicJwk, RETIRED_KEY_GRACE_MS, signingJwks, type SigningJwk } from '../../src/oidc/keys.ts';
import type { ServerKey } from '../../src/db/server-keys.ts';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 24 * 60 * 60 * 1000;

function key(kid: string, alg: 'RS256' | 'ES256', createdAt: number, retiredAt: number | null = null): ServerKey {
  const material: SigningJwk =
    alg === 'RS256'
      ? { kty: 'RSA', kid, alg, use: 'sig', n: `n-${kid}`, e: 'AQAB', d: 'private', p: 'p', q: 'q', dp: 'dp', dq: 'dq', qi: 'qi' }
      : { kty: 'EC', kid, alg, use: 'sig', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, d: 'private' };
  return { id: `id-${kid}`, purpose: 'signing', material: JSON.stringify(material), createdAt, retiredAt };
}

const kids = (keys: SigningJwk[]) => keys.map((jwk) => jwk.kid);

describe('which stored signing key signs', () => {
  const first = [key('rs1', 'RS256', T0), key('es1', 'ES256', T0)];

  it('signs with the only keys on the first start, RS256 first', () => {
    expect(kids(signingJwks(first, T0))).toEqual(['rs1', 'es1']);
  });

  it('keeps a rotated-in key behind the current one until it has been published for the JWKS max-age', () => {
    const rotatedAt = T0 + DAY;
    const stored = [key('rs1', 'RS256', T0, rotatedAt), key('es1', 'ES256', T0, rotatedAt), key('rs2', 'RS256', rotatedAt), key('es2', 'ES256', rotatedAt)];
    expect(kids(signingJwks(stored, rotatedAt + 1000))).toEqual(['rs1', 'es1', 'rs2', 'es2']);
    expect(kids(signingJwks(stored, rotatedAt + PUBLISHED_BEFORE_SIGNING_MS - 1))).toEqual(['rs1', 'es1', 'rs2', 'es2']);
    expect(kids(signingJwks(stored, rotatedAt + PUBLISHED_BEFORE_SIGNING_MS))).toEqual(['rs2', 'es2', 'rs1', 'es1']);
  });

  it('drops retired keys after the grace period, but never the one that still signs', () => {
    const stored = [key('rs1', 'RS256', T0, T0 + DAY), key('rs2', 'RS256', T0 + DAY, T0 + 2 * DAY), key('rs3', 'RS256', T0 + 2 * DAY)];
    expect(kids(signingJwks(stored, T0 + DAY + RETIRED_KEY_GRACE_MS))).toEqual(['rs3', 'rs2']);
    // Two rotations in a row: the first new key, though retired, signs until the second is old enough.
    const quick = [key('rs1', 'RS256', T0, T0 + DAY), key('rs2', 'RS256', T0 + DAY, T0 + DAY + 1000), key('rs3', 'RS256', T0 + DAY + 1000)];
    expect(kids(signingJwks(quick, T0 + DAY + PUBLISHED_BEFORE_SIGNING_MS))).toEqual(['rs2', 'rs3', 'rs1']);
  });

  it('publishes only public members, as strings, in oidc-provider’s order', () => {
    const [rs, es] = signingJwks(first, T0);
    expect(publicJwk(rs!)).toEqual({ kty: 'RSA', use: 'sig', kid: 'rs1', alg: 'RS256', e: 'AQAB', n: 'n-rs1' });
    expect(Object.keys(publicJwk(es!))).toEqual(['kty', 'use', 'kid', 'alg', 'crv', 'x', 'y']);
  });
});

describe('which cookie or code key signs', () => {
  const at = (id: string, createdAt: number) => ({ id, createdAt });

  it('keeps the previous key signing until a new one has been stored long enough for every instance to know it', () => {
    const keys = [at('new', T0 + DAY), at('old', T0)];
    expect(inSigningOrder(keys, T0 + DAY + 1, KEY_PROPAGATION_MS).map((key) => key.id)).toEqual(['old', 'new']);
    expect(inSigningOrder(keys, T0 + DAY + KEY_PROPAGATION_MS, KEY_PROPAGATION_MS).map((key) => key.id)).toEqual(['new', 'old']);
  });

  it('signs with the only key there is, however young', () => {
    expect(inSigningOrder([at('only', T0)], T0, KEY_PROPAGATION_MS).map((key) => key.id)).toEqual(['only']);
    expect(inSigningOrder([], T0, KEY_PROPAGATION_MS)).toEqual([]);
  });
});

describe('a configured signing grace (SIGNING_KEY_GRACE_SECONDS)', () => {
  it('lets a rotated key sign once that grace has passed, not the default one', () => {
    const rotatedAt = T0 + DAY;
    const stored = [key('rs1', 'RS256', T0, rotatedAt), key('rs2', 'RS256', rotatedAt)];
    expect(kids(signingJwks(stored, rotatedAt + 2999, 3000))).toEqual(['rs1', 'rs2']);
    expect(kids(signingJwks(stored, rotatedAt + 3000, 3000))).toEqual(['rs2', 'rs1']);
  });
});
