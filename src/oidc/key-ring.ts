import type { Queryable } from '../db/database.ts';
import { listAllServerKeys, serverKeysFingerprint, type KeyPurpose, type ServerKey } from '../db/server-keys.ts';
import {
  inSigningOrder,
  KEY_PROPAGATION_MS,
  KEYS_RECHECK_MS,
  publicJwk,
  RETIRED_KEY_GRACE_MS,
  signingJwks,
  type SigningJwk,
} from './keys.ts';

/** The keys one instance uses right now, each list in signing order (the signer first). */
export interface KeysInUse {
  /** The provider's private JWKS (see signingJwks). */
  signing: SigningJwk[];
  /** Cookie keys: the first signs, all verify (oidc-provider's cookies, @fastify/cookie, known devices). */
  cookie: string[];
  /** Verification-code HMAC keys: the first makes new codes, all check. */
  codeHmac: Buffer[];
}

export interface KeyRingOptions {
  db: Queryable;
  now: () => number;
  /** How long a new signing key is published before it signs (SIGNING_KEY_GRACE_SECONDS). */
  signingGraceMs: number;
}

/**
 * The server's keys as every instance sees them, kept current while running: `sesame keys rotate`
 * (or another instance's first start) changes the stored keys, and each instance re-reads the list
 * within KEYS_RECHECK_MS (one short query of key IDs; the keys themselves only when it changed). On
 * each look the keys in use are also chosen again for the time, so a rotated key starts signing
 * once its grace has passed without anything else happening. Listeners hear of each change.
 *
 * /oidc/jwks serves every signing key this process has loaded or seen stored since it started, so a
 * new key is published at once (long before it signs), and nothing once served is withdrawn before
 * the process ends, even if a rotation deletes it: tokens it signed may still be in use.
 */
export async function createKeyRing({ db, now, signingGraceMs }: KeyRingOptions) {
  let stored = await listAllServerKeys(db);
  let fingerprint = await serverKeysFingerprint(db);
  let inUse = choose(stored, now(), signingGraceMs);
  const served = new Map<string, Record<string, string>>();
  let jwksBody = '';
  const listeners: Array<(keys: KeysInUse) => void> = [];
  let checkedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  function publish(): void {
    const before = served.size;
    const at = now();
    for (const jwk of inUse.signing) if (!served.has(jwk.kid)) served.set(jwk.kid, publicJwk(jwk));
    for (const key of stored) {
      if (key.purpose !== 'signing' || (key.retiredAt !== null && at - key.retiredAt >= RETIRED_KEY_GRACE_MS)) continue;
      const jwk = JSON.parse(key.material) as SigningJwk;
      if (!served.has(jwk.kid)) served.set(jwk.kid, publicJwk(jwk));
    }
    if (served.size !== before || !jwksBody) jwksBody = JSON.stringify({ keys: [...served.values()] });
  }
  publish();

  async function look(): Promise<void> {
    checkedAt = Date.now();
    const current = await serverKeysFingerprint(db);
    if (current !== fingerprint) {
      stored = await listAllServerKeys(db);
      fingerprint = current;
      // Only a change to the stored keys can add to the JWKS (nothing served is ever withdrawn).
      publish();
    }
    // Chosen again even when nothing was stored: a rotated key starts signing once its grace passes.
    const next = choose(stored, now(), signingGraceMs);
    if (sameKeys(next, inUse)) return;
    inUse = next;
    for (const listener of listeners) listener(inUse);
  }

  /** One look at a time: the timer and a JWKS request may ask together. */
  function refresh(): Promise<void> {
    running ??= look().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    /** The keys in use now (kept current by start() or refresh()). */
    current: (): KeysInUse => inUse,
    /** Called with the new keys whenever the keys in use change. */
    onChange(listener: (keys: KeysInUse) => void): void {
      listeners.push(listener);
    },
    refresh,
    /** The public JWK set /oidc/jwks answers with; looks at the database at most once per KEYS_RECHECK_MS. */
    async jwks(): Promise<string> {
      if (Date.now() - checkedAt >= KEYS_RECHECK_MS) await refresh();
      return jwksBody;
    },
    /**
     * Looks every KEYS_RECHECK_MS. A failed look (the database away) is reported once, retried, and
     * its end reported too.
     */
    start(report: { failed(error: unknown): void; recovered(): void }): void {
      let failing = false;
      timer ??= setInterval(
        () =>
          void refresh().then(
            () => {
              if (failing) report.recovered();
              failing = false;
            },
            (error: unknown) => {
              if (!failing) report.failed(error);
              failing = true;
            },
          ),
        KEYS_RECHECK_MS,
      );
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

export type KeyRing = Awaited<ReturnType<typeof createKeyRing>>;

function ofPurpose(keys: readonly ServerKey[], purpose: KeyPurpose): ServerKey[] {
  return keys.filter((key) => key.purpose === purpose);
}

function choose(keys: readonly ServerKey[], at: number, signingGraceMs: number): KeysInUse {
  return {
    signing: signingJwks(ofPurpose(keys, 'signing'), at, signingGraceMs),
    cookie: inSigningOrder(ofPurpose(keys, 'cookie'), at, KEY_PROPAGATION_MS).map((key) => key.material),
    codeHmac: inSigningOrder(ofPurpose(keys, 'code-hmac'), at, KEY_PROPAGATION_MS).map((key) => Buffer.from(key.material, 'base64url')),
  };
}

function sameKeys(a: KeysInUse, b: KeysInUse): boolean {
  const same = <T>(x: readonly T[], y: readonly T[], id: (item: T) => string) => x.length === y.length && x.every((item, i) => id(item) === id(y[i]!));
  return (
    same(a.signing, b.signing, (jwk) => jwk.kid) &&
    same(a.cookie, b.cookie, (key) => key) &&
    same(a.codeHmac, b.codeHmac, (key) => key.toString('base64url'))
  );
}
