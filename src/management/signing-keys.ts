import type { Database } from '../db/database.ts';
import { listServerKeys, type ServerKey } from '../db/server-keys.ts';
import { inSigningOrder, KEY_PROPAGATION_MS, rotateKeys, type SigningJwk } from '../oidc/keys.ts';
import { auditChange, type ManagementActor } from './audit.ts';

/** Logto's key types: the keys that sign tokens, and the keys that sign cookies. */
export type KeyType = 'private-keys' | 'cookie-keys';
export const KEY_TYPES: readonly KeyType[] = ['private-keys', 'cookie-keys'];

const PURPOSE = { 'private-keys': 'signing', 'cookie-keys': 'cookie' } as const;

/** A key as an operator sees it: never its material. */
export interface KeyInfo {
  /** A signing key's `kid` (as published at /oidc/jwks); a cookie key's row ID. */
  id: string;
  createdAt: number;
  signingKeyAlgorithm?: 'RSA' | 'EC';
  /** Next: published, not signing yet; Current: signs; Previous: retired or replaced, still verifies. */
  status: 'Next' | 'Current' | 'Previous';
  /** When a Next key starts signing (epoch ms). */
  effectiveAt?: number;
}

/** Statuses of one group of keys that rotate together (one alg, or the cookie keys). */
function statuses(newestFirst: ServerKey[], now: number, graceMs: number): Map<ServerKey, KeyInfo['status']> {
  const [signer] = inSigningOrder(newestFirst, now, graceMs);
  const out = new Map<ServerKey, KeyInfo['status']>();
  let seenSigner = false;
  for (const key of newestFirst) {
    if (key === signer) seenSigner = true;
    out.set(key, key === signer ? 'Current' : seenSigner ? 'Previous' : 'Next');
  }
  return out;
}

/**
 * The keys of `type`, newest first. `signingGraceMs` is SIGNING_KEY_GRACE_SECONDS: how long a new
 * signing key is published before it signs (the same rule the key ring applies).
 */
export async function listKeys(db: Database, type: KeyType, signingGraceMs: number, now = Date.now()): Promise<KeyInfo[]> {
  const keys = await listServerKeys(db, PURPOSE[type]);
  if (type === 'cookie-keys') {
    const status = statuses(keys, now, KEY_PROPAGATION_MS);
    return keys.map((key) => ({
      id: key.id,
      createdAt: key.createdAt,
      status: status.get(key)!,
      ...(status.get(key) === 'Next' && { effectiveAt: key.createdAt + KEY_PROPAGATION_MS }),
    }));
  }
  const jwks = new Map(keys.map((key) => [key, JSON.parse(key.material) as SigningJwk]));
  const status = new Map<ServerKey, KeyInfo['status']>();
  for (const alg of ['RS256', 'ES256'] as const) {
    for (const [key, value] of statuses(keys.filter((key) => jwks.get(key)!.alg === alg), now, signingGraceMs)) status.set(key, value);
  }
  return keys.map((key) => {
    const jwk = jwks.get(key)!;
    return {
      id: jwk.kid,
      createdAt: key.createdAt,
      signingKeyAlgorithm: jwk.alg === 'RS256' ? 'RSA' : 'EC',
      status: status.get(key)!,
      ...(status.get(key) === 'Next' && { effectiveAt: key.createdAt + signingGraceMs }),
    };
  });
}

/**
 * Rotates the keys of `type` (rotateKeys: every instance sees them within a second; a new signing
 * key signs after the grace), records it, and returns the keys after the rotation.
 */
export async function rotateKeysOf(db: Database, type: KeyType | 'code-hmac', who: ManagementActor, now = Date.now()): Promise<void> {
  const purpose = type === 'code-hmac' ? 'code-hmac' : PURPOSE[type];
  // rotateKeys writes in its own transaction; the record follows it.
  await rotateKeys(db, purpose, now);
  await auditChange(db, who, 'Keys.Rotate', {}, { purpose });
}
