import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { isUniqueViolation } from '../db/database.ts';
import { findUserById, type User } from '../db/users.ts';
import {
  countPasskeys,
  findPasskeyByCredentialId,
  insertPasskey,
  listPasskeys,
  putChallenge,
  recordPasskeyUse,
  takeChallenge,
  type Passkey,
} from '../db/passkeys.ts';
import { randomId } from '../lib/random.ts';

/**
 * Passkeys (WebAuthn): the ceremonies' server side, every check done by @simplewebauthn/server.
 *
 * The relying party is ENDPOINT: its host name is the RP ID and its origin the one origin accepted,
 * so a passkey made for Sesame answers only Sesame (a phishing site gets nothing it can use).
 * Challenges are kept on the server, single use and bound to what asked for them: a sign-in's
 * interaction (`signin:<uid>`) or an account page session (`register:<session id>`); the answer's
 * check takes the challenge first, so an answer is checked at most once, whatever it says.
 */

/**
 * @simplewebauthn/server, loaded on first use: it brings an ASN.1 and certificate stack that a
 * start (and every CLI command) would otherwise pay for, passkeys or not.
 */
let library: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (library ??= import('@simplewebauthn/server'));

/** How long a browser has to answer a challenge (the options' timeout says the same to it). */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** Most passkeys one account may have: plenty for every device a person owns, a bound on rows. */
export const MAX_PASSKEYS = 20;
export const MAX_PASSKEY_NAME = 60;

export interface RelyingParty {
  /** The RP ID: ENDPOINT's host name. */
  id: string;
  /** ENDPOINT's origin: the one origin a browser's answer may come from. */
  origin: string;
  name: string;
}

export function relyingParty(endpoint: string, name = 'Sesame'): RelyingParty {
  const url = new URL(endpoint);
  return { id: url.hostname, origin: url.origin, name };
}

export const signInBinding = (interactionUid: string) => `signin:${interactionUid}`;
export const registerBinding = (accountSessionId: string) => `register:${accountSessionId}`;

/** The user handle stored in the passkey: the account's ID (random, no personal data), as bytes. */
const userHandleOf = (userId: string) => new TextEncoder().encode(userId);

/** A passkey's name as typed: trimmed, control characters out, at most MAX_PASSKEY_NAME characters. */
export const passkeyNameSchema = z
  .string()
  .transform((value) => value.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').replace(/\s+/g, ' ').trim())
  .pipe(
    z
      .string()
      .min(1, 'Give the passkey a name, such as the device it is on.')
      .max(MAX_PASSKEY_NAME, `A passkey's name has at most ${MAX_PASSKEY_NAME} characters.`),
  );

const b64url = z.string().min(1).max(16_384).regex(/^[A-Za-z0-9_-]+$/, 'not base64url');

/** What a browser answers to navigator.credentials.create(), as @simplewebauthn/browser sends it. */
const registrationResponseSchema = z.object({
  id: b64url.max(1024),
  rawId: b64url.max(1024),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: b64url,
    attestationObject: b64url,
    transports: z.array(z.string().max(32)).max(10).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});

/** What a browser answers to navigator.credentials.get(). */
const authenticationResponseSchema = z.object({
  id: b64url.max(1024),
  rawId: b64url.max(1024),
  type: z.literal('public-key'),
  response: z.looseObject({
    clientDataJSON: b64url,
    authenticatorData: b64url,
    signature: b64url,
    userHandle: b64url.max(1024).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});

/** Parses the JSON a form field carries; undefined when it is not a credential answer of that shape. */
function parseJson<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const KNOWN_TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const transportsOf = (list: readonly string[] | undefined): AuthenticatorTransport[] =>
  (list ?? []).filter((t): t is AuthenticatorTransport => KNOWN_TRANSPORTS.has(t));

// Registration (the account page).

export async function registrationOptions(
  db: Database,
  rp: RelyingParty,
  user: User,
  binding: string,
  now: number,
): Promise<PublicKeyCredentialCreationOptionsJSON | { refused: 'too_many' }> {
  const existing = await listPasskeys(db, user.id);
  if (existing.length >= MAX_PASSKEYS) return { refused: 'too_many' };
  const options = await (await webauthn()).generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: userHandleOf(user.id),
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    timeout: CHALLENGE_TTL_MS,
    attestationType: 'none',
    // The same authenticator twice would be one passkey under two names.
    excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: transportsOf(passkey.transports) })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
  });
  await putChallenge(db, { id: binding, challenge: options.challenge, userId: user.id, expiresAt: now + CHALLENGE_TTL_MS });
  return options;
}

export type RegistrationRefusal = 'expired' | 'malformed' | 'invalid' | 'duplicate' | 'too_many';

/** Checks the browser's answer and stores the new passkey under `name`. */
export async function registerPasskey(
  db: Database,
  rp: RelyingParty,
  user: User,
  binding: string,
  answer: { response: string; name: string },
  now: number,
): Promise<{ passkey: Passkey } | { refused: RegistrationRefusal; detail?: string }> {
  // Taken before anything else: whatever the answer says, this challenge is spent.
  const challenge = await takeChallenge(db, binding, now);
  if (!challenge || challenge.userId !== user.id) return { refused: 'expired' };
  const response = parseJson(registrationResponseSchema, answer.response) as RegistrationResponseJSON | undefined;
  if (!response) return { refused: 'malformed' };
  let verification;
  try {
    verification = await (await webauthn()).verifyRegistrationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: false,
    });
  } catch (error) {
    return { refused: 'invalid', detail: error instanceof Error ? error.message : String(error) };
  }
  if (!verification.verified) return { refused: 'invalid' };
  const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
  const passkey: Passkey = {
    id: randomId(),
    userId: user.id,
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString('base64url'),
    counter: credential.counter,
    transports: transportsOf(credential.transports ?? response.response.transports),
    deviceType: credentialDeviceType,
    backedUp: credentialBackedUp,
    name: answer.name,
    createdAt: now,
    lastUsedAt: null,
  };
  try {
    await db.transaction().execute(async (tx) => {
      // Checked again in the transaction: two tabs adding at once stay within the bound.
      if ((await countPasskeys(tx, user.id)) >= MAX_PASSKEYS) throw new TooMany();
      await insertPasskey(tx, passkey);
    });
  } catch (error) {
    if (error instanceof TooMany) return { refused: 'too_many' };
    if (isUniqueViolation(error)) return { refused: 'duplicate' };
    throw error;
  }
  return { passkey };
}

class TooMany extends Error {}

// Authentication (the sign-in page).

/**
 * Options for a sign-in of the interaction `binding`: no allowCredentials (a discoverable
 * credential: the browser offers the person's passkeys for this RP, so nobody types an address and
 * the answer reveals nothing about which addresses have passkeys).
 */
export async function authenticationOptions(db: Database, rp: RelyingParty, binding: string, now: number): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await (await webauthn()).generateAuthenticationOptions({ rpID: rp.id, timeout: CHALLENGE_TTL_MS, userVerification: 'preferred' });
  await putChallenge(db, { id: binding, challenge: options.challenge, userId: null, expiresAt: now + CHALLENGE_TTL_MS });
  return options;
}

/**
 * Why an answer was refused. `unknown`: no passkey with that credential ID (removed, or made for
 * another Sesame on this host); `counter`: the signature counter did not move forward (a cloned
 * authenticator or a replay); `flags`: the backup-eligible flag changed, which a genuine credential
 * never does.
 */
export type AuthenticationRefusal = 'expired' | 'malformed' | 'unknown' | 'no_account' | 'user_handle' | 'invalid' | 'counter' | 'flags';

export type AuthenticationResult =
  | { ok: true; user: User; passkey: Passkey; userVerified: boolean }
  | { ok: false; refused: AuthenticationRefusal; user?: User; passkey?: Passkey; detail?: string };

/** Spends the challenge of `binding` without checking anything (an answer that could not be read). */
export async function spendChallenge(db: Database, binding: string, now: number): Promise<void> {
  await takeChallenge(db, binding, now);
}

/** Parses an assertion and finds whose passkey it names (no verification yet). */
export async function identifyAssertion(
  db: Database,
  text: string,
): Promise<{ response: AuthenticationResponseJSON; passkey?: Passkey; user?: User } | undefined> {
  const response = parseJson(authenticationResponseSchema, text) as AuthenticationResponseJSON | undefined;
  if (!response) return undefined;
  const passkey = await findPasskeyByCredentialId(db, response.id);
  const user = passkey && (await findUserById(db, passkey.userId));
  return { response, passkey, user };
}

/**
 * Verifies an identified assertion against the challenge of `binding` (taken first: single use)
 * and records the use (counter, backup state, time). The caller checks the lockout before and
 * counts a refusal after.
 */
export async function verifyAssertion(
  db: Database,
  rp: RelyingParty,
  binding: string,
  identified: { response: AuthenticationResponseJSON; passkey?: Passkey; user?: User },
  now: number,
): Promise<AuthenticationResult> {
  const challenge = await takeChallenge(db, binding, now);
  const { response, passkey, user } = identified;
  if (!challenge) return { ok: false, refused: 'expired', passkey, user };
  if (!passkey) return { ok: false, refused: 'unknown' };
  if (!user) return { ok: false, refused: 'no_account', passkey };
  // The authenticator's user handle, when it sends one, must be the account the credential is ours for.
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== Buffer.from(userHandleOf(user.id)).toString('base64url')) {
    return { ok: false, refused: 'user_handle', passkey, user };
  }
  let verification;
  try {
    verification = await (await webauthn()).verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')),
        counter: passkey.counter,
        transports: transportsOf(passkey.transports),
      },
      requireUserVerification: false,
    });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    // The library refuses a counter that did not grow (while either side is not 0) with this message.
    return { ok: false, refused: /counter value/i.test(detail) ? 'counter' : 'invalid', passkey, user, detail };
  }
  if (!verification.verified) return { ok: false, refused: 'invalid', passkey, user };
  const info = verification.authenticationInfo;
  if (info.credentialDeviceType !== passkey.deviceType) return { ok: false, refused: 'flags', passkey, user, detail: `backup eligibility changed to ${info.credentialDeviceType}` };
  const recorded = await recordPasskeyUse(db, passkey.id, { expectedCounter: passkey.counter, newCounter: info.newCounter, backedUp: info.credentialBackedUp, at: now });
  if (!recorded) {
    // The row changed since it was read: another answer with a counter was accepted meanwhile (this
    // one is a replay or a clone's), or the passkey was removed.
    return info.newCounter !== 0
      ? { ok: false, refused: 'counter', passkey, user, detail: 'the counter moved while this answer was checked' }
      : { ok: false, refused: 'unknown', passkey, user };
  }
  return { ok: true, user, passkey: { ...passkey, counter: info.newCounter, backedUp: info.credentialBackedUp, lastUsedAt: now }, userVerified: info.userVerified };
}
