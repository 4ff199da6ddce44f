import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import {
  deleteServerKeysRetiredBefore,
  insertServerKey,
  listServerKeys,
  retireServerKeys,
  type KeyPurpose,
  type ServerKey,
} from '../db/server-keys.ts';
import { randomId } from '../lib/random.ts';

export interface SigningJwk extends JsonWebKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  use: 'sig';
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
 * The default SIGNING_KEY_GRACE_SECONDS: a new signing key signs once it has been stored (and so
 * published) this long, so that no cache can still hold a JWKS without it when the first token it
 * signed arrives. Until then the key it replaces keeps signing.
 */
export const PUBLISHED_BEFORE_SIGNING_MS = JWKS_MAX_AGE_SECONDS * 1000;

/**
 * A new cookie or code key is accepted by every instance as soon as it sees it (each re-reads the
 * key list every KEYS_RECHECK_MS) but signs only once it has been stored this long, so a cookie or
 * code made with it on one instance is never checked by an instance that does not know it yet.
 */
export const KEY_PROPAGATION_MS = 5000;

/** How often each instance looks for keys stored or retired by another process (`sesame keys rotate`). */
export const KEYS_RECHECK_MS = 1000;

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

/**
 * Creates the keys a purpose lacks (the very first start). Several instances may start together on
 * an empty database: src/server.ts runs this under a lock (runSerialized) so only the first creates.
 */
export async function ensureServerKeys(db: Database, now = Date.now()): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const purpose of PURPOSES) {
      if ((await listServerKeys(tx, purpose)).length === 0) await addKeys(tx, purpose, now);
    }
  });
}

/**
 * Keys of one purpose in the order their users want them: the one that signs first, then every
 * other key that still verifies. The signer is the newest key stored at least `publishedForMs` ago;
 * when none is that old (the first start, or two rotations in a row) the oldest signs: nothing older
 * was ever published. Keys are given newest first (as listServerKeys returns them).
 */
export function inSigningOrder<K extends Pick<ServerKey, 'createdAt'>>(newestFirst: readonly K[], now: number, publishedForMs: number): K[] {
  const signer = newestFirst.find((key) => now - key.createdAt >= publishedForMs) ?? newestFirst.at(-1);
  return signer ? [signer, ...newestFirst.filter((key) => key !== signer)] : [];
}

/**
 * The provider's private JWKS at `now`, in signing order: oidc-provider signs with the first key of
 * an alg (its keystore keeps configuration order among equal matches), so the signer of each alg
 * comes first (RS256 ahead, as OIDC makes it the default), then every other key kept for verifying.
 *
 * The signer of an alg is chosen by inSigningOrder with the signing grace (SIGNING_KEY_GRACE_SECONDS,
 * default PUBLISHED_BEFORE_SIGNING_MS): a younger key is loaded but only verifies. Retired keys past
 * RETIRED_KEY_GRACE_MS are dropped, unless one is still the signer.
 */
export function signingJwks(keys: readonly ServerKey[], now: number, graceMs = PUBLISHED_BEFORE_SIGNING_MS): SigningJwk[] {
  const parsed = [...keys]
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    .map((key) => ({ createdAt: key.createdAt, key, jwk: JSON.parse(key.material) as SigningJwk }));
  const signers: SigningJwk[] = [];
  const others: SigningJwk[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const [signer, ...rest] = inSigningOrder(
      parsed.filter(({ jwk }) => jwk.alg === alg),
      now,
      graceMs,
    );
    if (signer) signers.push(signer.jwk);
    for (const entry of rest) {
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
 * Rotation. Every running instance sees the new keys within KEYS_RECHECK_MS (src/oidc/key-ring.ts):
 * a new signing key is published at once and signs once the signing grace has passed; new cookie and
 * code keys are accepted at once and sign after KEY_PROPAGATION_MS. Old keys are retired: signing keys
 * stay published for RETIRED_KEY_GRACE_MS; cookie and code keys stay accepted until a later rotation,
 * run after that grace period, deletes them.
 */
export async function rotateKeys(db: Database, purpose: KeyPurpose, now = Date.now()): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await deleteServerKeysRetiredBefore(tx, purpose, now - RETIRED_KEY_GRACE_MS);
    await retireServerKeys(tx, purpose, now);
    await addKeys(tx, purpose, now);
  });
}
