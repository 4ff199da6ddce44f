import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import {
  deleteServerKeysRetiredBefore,
  insertServerKey,
  listServerKeys,
  retireServerKeys,
  type KeyPurpose,
} from '../db/server-keys.ts';
import { randomId } from '../lib/random.ts';

export interface SigningJwk extends JsonWebKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  use: 'sig';
}

export interface ServerSecrets {
  /** Private JWKs, the ones in use first (RS256 then ES256), then retired ones kept for verification. */
  jwks: { keys: SigningJwk[] };
  /** Cookie keys, newest first: oidc-provider signs with the first and accepts all. */
  cookieKeys: string[];
  /** HMAC keys for verification codes, newest first. */
  codeHmacKeys: Buffer[];
}

/** Retired keys stay published this long so tokens signed before a rotation still verify. */
export const RETIRED_KEY_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Only members that are JSON strings: Logto SDKs reject JWKS entries with arrays or numbers,
 * so key_ops, x5c and friends never get in.
 */
function generateSigningKey(alg: 'RS256' | 'ES256'): SigningJwk {
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomId(32), alg, use: 'sig' };
}

function newMaterial(purpose: KeyPurpose): string[] {
  switch (purpose) {
    case 'signing':
      return [JSON.stringify(generateSigningKey('RS256')), JSON.stringify(generateSigningKey('ES256'))];
    case 'cookie':
    case 'code-hmac':
      return [randomBytes(32).toString('base64url')];
  }
}

async function addKeys(tx: Queryable, purpose: KeyPurpose, now: number): Promise<void> {
  for (const material of newMaterial(purpose)) {
    await insertServerKey(tx, { id: randomId(), purpose, material, createdAt: now, retiredAt: null });
  }
}

const PURPOSES: readonly KeyPurpose[] = ['signing', 'cookie', 'code-hmac'];

/** Creates missing keys on first start; later starts reuse what the database holds. */
export async function loadServerSecrets(db: Database, now = Date.now()): Promise<ServerSecrets> {
  await db.transaction(async (tx) => {
    for (const purpose of PURPOSES) {
      if ((await listServerKeys(tx, purpose)).length === 0) await addKeys(tx, purpose, now);
    }
  });
  const signing = (await listServerKeys(db, 'signing')).filter(
    (key) => key.retiredAt === null || now - key.retiredAt < RETIRED_KEY_GRACE_MS,
  );
  // Active keys first so they sign; among equals keep RS256 ahead because OIDC requires it as default.
  signing.sort((a, b) => Number(a.retiredAt !== null) - Number(b.retiredAt !== null) || b.createdAt - a.createdAt);
  const jwks = signing.map((key) => JSON.parse(key.material) as SigningJwk);
  return {
    jwks: { keys: orderForSigning(jwks) },
    cookieKeys: (await listServerKeys(db, 'cookie')).map((key) => key.material),
    codeHmacKeys: (await listServerKeys(db, 'code-hmac')).map((key) => Buffer.from(key.material, 'base64url')),
  };
}

/** Keeps the newest key per alg at the front (RS256 first), older ones after them. */
function orderForSigning(keys: SigningJwk[]): SigningJwk[] {
  const seen = new Set<string>();
  const current: SigningJwk[] = [];
  const older: SigningJwk[] = [];
  for (const key of keys) {
    if (seen.has(key.alg)) older.push(key);
    else {
      seen.add(key.alg);
      current.push(key);
    }
  }
  current.sort((a, b) => (a.alg === 'RS256' ? -1 : b.alg === 'RS256' ? 1 : 0));
  return [...current, ...older];
}

/**
 * Rotation: new keys start signing at once; the old ones are retired but stay published (signing
 * keys) or accepted (cookie keys) for the grace period, then get dropped.
 */
export async function rotateKeys(db: Database, purpose: KeyPurpose, now = Date.now()): Promise<void> {
  await db.transaction(async (tx) => {
    await deleteServerKeysRetiredBefore(tx, purpose, now - RETIRED_KEY_GRACE_MS);
    await retireServerKeys(tx, purpose, now);
    await addKeys(tx, purpose, now);
  });
}
