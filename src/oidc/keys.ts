import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import {
  deleteServerKeysRetiredBefore,
  insertServerKey,
  listServerKeys,
  retireServerKeys,
  signingKeyFingerprint,
  type KeyPurpose,
  type ServerKey,
} from '../db/server-keys.ts';
import { randomId } from '../lib/random.ts';

export interface SigningJwk extends JsonWebKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  use: 'sig';
}

export interface ServerSecrets {
  /**
   * Every stored signing key. Which of them the provider loads, and which one signs per alg, depends
   * on the clock at start: see signingJwks().
   */
  signingKeys: ServerKey[];
  /** Cookie keys, newest first: oidc-provider signs with the first and accepts all (retired ones too). */
  cookieKeys: string[];
  /** HMAC keys for verification codes, newest first (retired ones too). */
  codeHmacKeys: Buffer[];
}

/**
 * Retired signing keys stay published this long so tokens signed before a rotation still verify;
 * a rotation deletes keys of its purpose retired longer ago than this.
 */
export const RETIRED_KEY_GRACE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * How long relying parties may cache /oidc/jwks (its Cache-Control max-age, in seconds). Ten minutes
 * keeps the JWKS off the hot path of every API that verifies our JWTs, and is what common libraries
 * (jose's remote JWK set, for one) assume anyway.
 */
export const JWKS_MAX_AGE_SECONDS = 600;

/**
 * A new signing key becomes the signer at the first start after it has been stored (and so
 * published) this long, so that no cache can still hold a JWKS without it when the first token it
 * signed arrives. Until then the key it replaces keeps signing.
 */
export const PUBLISHED_BEFORE_SIGNING_MS = JWKS_MAX_AGE_SECONDS * 1000;

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
  await db.transaction().execute(async (tx) => {
    for (const purpose of PURPOSES) {
      if ((await listServerKeys(tx, purpose)).length === 0) await addKeys(tx, purpose, now);
    }
  });
  return {
    signingKeys: await listServerKeys(db, 'signing'),
    cookieKeys: (await listServerKeys(db, 'cookie')).map((key) => key.material),
    codeHmacKeys: (await listServerKeys(db, 'code-hmac')).map((key) => Buffer.from(key.material, 'base64url')),
  };
}

/**
 * The provider's private JWKS at `now`, in signing order: oidc-provider signs with the first key of
 * an alg (its keystore keeps configuration order among equal matches), so the signer of each alg
 * comes first (RS256 ahead, as OIDC makes it the default), then every other key kept for verifying.
 *
 * The signer of an alg is its newest key that has been stored (and so published: /oidc/jwks serves
 * stored keys at once) for PUBLISHED_BEFORE_SIGNING_MS. A younger key is loaded but only verifies;
 * the key it replaces keeps signing until a start after that age. When no key is that old (the very
 * first start) the oldest signs: nothing older was ever published. Retired keys past the grace
 * period are dropped, unless one is still the signer.
 */
export function signingJwks(keys: readonly ServerKey[], now: number): SigningJwk[] {
  const parsed = [...keys]
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    .map((key) => ({ key, jwk: JSON.parse(key.material) as SigningJwk }));
  const signers: SigningJwk[] = [];
  const others: SigningJwk[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const ofAlg = parsed.filter(({ jwk }) => jwk.alg === alg);
    const signer = ofAlg.find(({ key }) => now - key.createdAt >= PUBLISHED_BEFORE_SIGNING_MS) ?? ofAlg.at(-1);
    if (signer) signers.push(signer.jwk);
    for (const entry of ofAlg) {
      if (entry === signer) continue;
      if (entry.key.retiredAt !== null && now - entry.key.retiredAt >= RETIRED_KEY_GRACE_MS) continue;
      others.push(entry.jwk);
    }
  }
  return [...signers, ...others];
}

/** A member of a published JWK set, in oidc-provider's own shape and order. */
type PublicJwk = Record<string, string>;

/**
 * The public half of a key exactly as oidc-provider publishes it (kty, use, kid, alg, then the
 * key's public parameters): strings only, since Logto SDKs reject members that are arrays or
 * numbers, and never a private parameter.
 */
export function publicJwk(jwk: SigningJwk): PublicJwk {
  const out: PublicJwk = {};
  for (const member of ['kty', 'use', 'kid', 'alg', 'crv', 'e', 'n', 'x', 'y'] as const) {
    const value = (jwk as Record<string, unknown>)[member];
    if (typeof value === 'string') out[member] = value;
  }
  return out;
}

/**
 * What /oidc/jwks serves: the keys the provider loaded at start (signing order; the same rule on the
 * same rows), then every signing key stored since (a `sesame keys rotate` while running), so a new
 * key is published the moment it is stored, long before a start lets it sign. Nothing once served
 * is withdrawn before the process ends, even if a rotation deletes it: the provider may still sign
 * with it. Each call asks the database only for the list of signing key IDs (one small indexed
 * read); keys are parsed again only when that list changes.
 */
/** How often /oidc/jwks looks for keys rotated in since the last look. */
export const JWKS_RECHECK_MS = 1000;

export async function createJwksPublisher(db: Queryable, now: () => number): Promise<{ jwks(): Promise<string> }> {
  const served = new Map<string, PublicJwk>();
  const stored = await listServerKeys(db, 'signing');
  for (const jwk of signingJwks(stored, now())) served.set(jwk.kid, publicJwk(jwk));
  let fingerprint = await signingKeyFingerprint(db);
  let body = JSON.stringify({ keys: [...served.values()] });
  // The database is asked at most once a second: a rotation is published within a second, and a
  // burst of JWKS requests does not cost a query each (relying parties cache it JWKS_MAX_AGE anyway).
  let checkedAt = 0;
  return {
    async jwks() {
      if (Date.now() - checkedAt < JWKS_RECHECK_MS) return body;
      checkedAt = Date.now();
      const current = await signingKeyFingerprint(db);
      if (current === fingerprint) return body;
      const at = now();
      for (const key of await listServerKeys(db, 'signing')) {
        if (key.retiredAt !== null && at - key.retiredAt >= RETIRED_KEY_GRACE_MS) continue;
        const jwk = JSON.parse(key.material) as SigningJwk;
        if (!served.has(jwk.kid)) served.set(jwk.kid, publicJwk(jwk));
      }
      fingerprint = current;
      body = JSON.stringify({ keys: [...served.values()] });
      return body;
    },
  };
}

/**
 * Rotation. New signing keys are published within a second (/oidc/jwks re-reads the key list at most once a second) and sign from the
 * first start of Sesame at least PUBLISHED_BEFORE_SIGNING_MS later; until then the previous key signs.
 * New cookie and code keys are used from the next start. Old keys are retired: signing keys stay
 * published for RETIRED_KEY_GRACE_MS; cookie and code keys stay accepted until a later rotation, run
 * after that grace period, deletes them.
 */
export async function rotateKeys(db: Database, purpose: KeyPurpose, now = Date.now()): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await deleteServerKeysRetiredBefore(tx, purpose, now - RETIRED_KEY_GRACE_MS);
    await retireServerKeys(tx, purpose, now);
    await addKeys(tx, purpose, now);
  });
}
