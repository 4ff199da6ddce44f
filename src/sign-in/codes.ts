import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import {
  consumeCode,
  deleteCode,
  deleteSend,
  findCode,
  findCodeAndCountSends,
  insertSend,
  recordWrongGuess,
  saveCode,
  saveResentCode,
  type CodeRecord,
} from '../db/verification.ts';
import { serializeOn } from '../db/serialize.ts';
import { writeAhead } from '../db/write-ahead.ts';
import { commitWithoutFlushWait } from '../db/transient.ts';
import { randomId } from '../lib/random.ts';
import type { LockState } from './lockout.ts';
import { linkMac, linkMatches, newLinkToken, openCode, sealCode } from './link-token.ts';

export interface CodePolicy {
  ttlMs: number;
  maxAttempts: number;
  resendCooldownMs: number;
  /** Codes one address gets from browsers where it never signed in; the mailbox owner's own browsers are exempt. */
  perAddress: { limit: number; windowMs: number };
  /** Codes one address gets from one IP: lower than perAddress, so one attacker cannot use up the address's budget. */
  perPair: { limit: number; windowMs: number };
  perIp: { limit: number; windowMs: number };
}

const MINUTE = 60_000;

export function defaultCodePolicy(ttlMinutes = 10): CodePolicy {
  return {
    ttlMs: ttlMinutes * MINUTE,
    maxAttempts: 5,
    resendCooldownMs: MINUTE,
    perAddress: { limit: 5, windowMs: 15 * MINUTE },
    perPair: { limit: 3, windowMs: 15 * MINUTE },
    perIp: { limit: 30, windowMs: 15 * MINUTE },
  };
}

export type IssueResult =
  | { status: 'sent'; expiresAt: number }
  /** Delivery did not finish in time or ended ambiguously: the code stands and the send counts. */
  | { status: 'uncertain'; expiresAt: number; error?: unknown }
  | { status: 'cooldown'; retryAfterSeconds: number }
  | { status: 'rate_limited'; retryAfterSeconds: number }
  /** The mail certainly did not leave: the send is refunded and the previous code restored. */
  | { status: 'delivery_failed'; error: unknown };

/**
 * A right code's single use, not made yet: the caller makes it in the transaction that completes what
 * the code proves (kit.completeSignIn holds it with the sign-in's own writes: one commit for both, and
 * a sign-in that fails to be stored leaves the code usable), or alone before it answers. It throws
 * CodeChangedMeanwhile when the code is no longer the one checked (used by a request at the same
 * moment, resent, or used up by wrong guesses): that transaction is rolled back, and the caller checks
 * the guess again on the row as it now is.
 */
export type CodeUse = (q: Queryable) => Promise<void>;

/** See CodeUse. */
export class CodeChangedMeanwhile extends Error {
  override readonly name = 'CodeChangedMeanwhile';
  constructor() {
    super('the verification code changed between its check and its use');
  }
}

/** A verdict on a guess; `state` is the code as it stands after it (for the page that answers). */
export type VerifyResult =
  | { status: 'ok'; email: string; use: CodeUse }
  /** A wrong guess, counted; attemptsLeft 0 means this guess used up the code. */
  | { status: 'wrong'; attemptsLeft: number; state: CodeState }
  /** The code was already used up before this guess; the guess was not checked. */
  | { status: 'dead'; state: CodeState }
  | { status: 'expired'; state: CodeState }
  /** The gate (the lockout) refused the guess before it was checked. */
  | { status: 'locked'; lock: Extract<LockState, { locked: true }>; state: CodeState }
  /** No live code: never sent, replaced by nothing, or already used. */
  | { status: 'missing' };

/** A verdict on a sign-in link used in the browser that started the sign-in: a code's, or "already used". */
export type LinkVerifyResult = VerifyResult | { status: 'used' };

/**
 * What a link says when opened without the sign-in's browser (nothing is written): `valid` carries
 * the code to type in the browser where the sign-in started.
 */
export type LinkPeek =
  | { status: 'valid'; code: string; email: string; expiresAt: number }
  | { status: 'used' | 'expired' | 'dead'; email: string }
  /** No such link: mangled, replaced by a newer email, or so old its code was purged. */
  | { status: 'invalid' };

/** Asked before a guess is checked, with the code's address: the lockout, which keys on the address the code was sent to. */
export type VerifyGate = (email: string) => Promise<LockState>;

export interface CodeState {
  email: string;
  resendInSeconds: number;
  attemptsLeft: number;
  expired: boolean;
  dead: boolean;
  consumed: boolean;
}

export interface IssueRequest {
  interactionUid: string;
  purpose: string;
  email: string;
  ip: string;
  /**
   * Sends the code (and, with `link`, the sign-in link's token). Not called for a phantom code (no
   * account and sign-up closed).
   */
  deliver: (code: string, expiresAt: number, linkToken?: string) => Promise<void>;
  /** Issue a sign-in link with the code: the same secret in a second form (the experience's verificationCode.link). */
  link?: boolean;
  phantom?: boolean;
  /** The browser has signed in with this address before: the per-address cap does not apply to it. */
  knownDevice?: boolean;
  /** Called when a delivery that outlived the answer deadline fails later (for the log). */
  onLateFailure?: (error: unknown) => void;
}

export interface CodeServiceDeps {
  db: Database;
  /** The HMAC keys in use now, the one that makes new codes first (they change with `sesame keys rotate`). */
  hmacKeys: () => readonly Buffer[];
  policy: () => CodePolicy | Promise<CodePolicy>;
  now?: () => number;
  generate?: () => string;
  sleep?: (ms: number) => Promise<void>;
  /** How long the person waits for the SMTP server before the page answers anyway (default 8 s). */
  answerWithinMs?: number;
  /** Whether a failed delivery certainly did not send the mail (only then is the send refunded). */
  certainlyNotSent?: (error: unknown) => boolean;
}

const sixDigits = () => randomInt(0, 1_000_000).toString().padStart(6, '0');
const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000));

type Binding = Pick<CodeRecord, 'interactionUid' | 'purpose' | 'email'>;

/** The stored form of a code: an HMAC bound to its interaction, purpose and address. */
const codeMac = (key: Buffer, record: Binding, code: string) =>
  createHmac('sha256', key).update(`${record.interactionUid}\n${record.purpose}\n${record.email}\n${code}`).digest();

function matchesAnyKey(keys: readonly Buffer[], record: CodeRecord, code: string): boolean {
  const stored = Buffer.from(record.codeHmac, 'base64url');
  let ok = false;
  for (const key of keys) {
    const candidate = codeMac(key, record, code);
    // Always compare against every key so timing does not depend on which key matched.
    ok = (candidate.length === stored.length && timingSafeEqual(candidate, stored)) || ok;
  }
  return ok;
}

function describeCode(record: CodeRecord, at: number, { maxAttempts, resendCooldownMs }: CodePolicy): CodeState {
  return {
    email: record.email,
    resendInSeconds: Math.max(0, Math.ceil((record.lastSentAt + resendCooldownMs - at) / 1000)),
    attemptsLeft: Math.max(0, maxAttempts - record.failedAttempts),
    expired: record.expiresAt <= at,
    dead: record.failedAttempts >= maxAttempts,
    consumed: record.consumedAt !== null,
  };
}

type Reservation =
  | { status: 'reserved'; previous: CodeRecord | undefined; record: CodeRecord }
  | Extract<IssueResult, { status: 'cooldown' | 'rate_limited' }>;

/**
 * Step 1 of a send, inside one transaction: the resend cooldown, the caps (per address+IP pair,
 * per address unless the browser is known, per IP), then the new code stored and the send counted.
 */
async function reserve(
  tx: Queryable,
  request: IssueRequest,
  rules: CodePolicy,
  at: number,
  stored: { codeHmac: (record: Binding) => string; link?: (record: Binding) => { hmac: string; sealedCode: string }; sendId: string },
): Promise<Reservation> {
  // Counting and then adding a send must be one step for each address and IP, across instances: the
  // locks are taken in one statement before anything is read, and held to the commit. (Many people
  // share an IP behind a NAT, and every bench client is 127.0.0.1: what follows the locks is kept to
  // one read and the writes, which go out with the COMMIT on PostgreSQL, so their sends queue only briefly.)
  await serializeOn(tx, [`sends:email:${request.email}`, `code:${request.interactionUid}:${request.purpose}`, `sends:ip:${request.ip}`]);
  // A code and its send are sign-in progress (src/db/transient.ts): a crash of the database server
  // that loses them costs a new code, and at most a send or two uncounted.
  await commitWithoutFlushWait(tx);
  // The previous code and the send counts, in one read: sends for this interaction are serialized by
  // the lock above, and a guess at the previous code counted meanwhile (another instance) is carried
  // over by saveResentCode itself.
  const { previous, sends } = await findCodeAndCountSends(tx, {
    interactionUid: request.interactionUid,
    purpose: request.purpose,
    email: request.email,
    ip: request.ip,
    pairSince: at - rules.perPair.windowMs,
    addressSince: at - rules.perAddress.windowMs,
    ipSince: at - rules.perIp.windowMs,
  });
  if (previous && previous.email === request.email && previous.consumedAt === null) {
    const readyAt = previous.lastSentAt + rules.resendCooldownMs;
    if (readyAt > at) return { status: 'cooldown', retryAfterSeconds: secondsUntil(readyAt, at) };
  }
  const caps = [
    [sends.pair, rules.perPair],
    // The address's own cap spares the browsers it signed in from (see CodePolicy.perAddress).
    ...(request.knownDevice ? [] : [[sends.address, rules.perAddress] as const]),
    [sends.ip, rules.perIp],
  ] as const;
  for (const [count, limit] of caps) {
    if (count.count >= limit.limit) {
      return { status: 'rate_limited', retryAfterSeconds: secondsUntil((count.oldest ?? at) + limit.windowMs, at) };
    }
  }
  const binding = { interactionUid: request.interactionUid, purpose: request.purpose, email: request.email };
  const link = stored.link?.(binding);
  const record: CodeRecord = {
    ...binding,
    codeHmac: stored.codeHmac(binding),
    // A fresh code's count. A resend keeps the replaced code's count instead, so resending cannot buy
    // extra guesses, unless that code was used or dead (the send caps bound how often that can
    // happen): saveResentCode decides that on the stored row, as it is when written.
    failedAttempts: 0,
    expiresAt: at + rules.ttlMs,
    lastSentAt: at,
    consumedAt: null,
    createdAt: at,
    // A resend replaces the token too: only the newest email's link works, as only its code does.
    linkHmac: link?.hmac ?? null,
    linkCode: link?.sealedCode ?? null,
  };
  // Nothing in the transaction reads these back: on PostgreSQL they go out with the COMMIT.
  await writeAhead(tx, async () => {
    await saveResentCode(tx, record, rules.maxAttempts);
    await insertSend(tx, { id: stored.sendId, email: request.email, ip: request.ip, sentAt: at });
  });
  return { status: 'reserved', previous, record };
}

type DeliveryOutcome = { ok: true } | { ok: false; error: unknown } | 'late';

/**
 * Step 2: deliver, but answer the person by the deadline whatever the SMTP server does. A delivery
 * still running then keeps going; its later failure goes to `onLateFailure` (for the log).
 */
async function deliverWithin(request: IssueRequest, code: string, expiresAt: number, linkToken: string | undefined, answerWithinMs: number): Promise<DeliveryOutcome> {
  const delivery = request.deliver(code, expiresAt, linkToken).then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), answerWithinMs);
  });
  const outcome = await Promise.race([delivery, deadline]);
  clearTimeout(timer);
  if (outcome === 'late') {
    void delivery.then((late) => {
      if (!late.ok) request.onLateFailure?.(late.error);
    });
  }
  return outcome;
}

/** Step 3, only when the mail certainly did not leave: give the send back and restore the previous code. */
async function refund(db: Database, request: IssueRequest, reservation: Extract<Reservation, { status: 'reserved' }>, sendId: string) {
  await db.transaction().execute(async (tx) => {
    await commitWithoutFlushWait(tx);
    await deleteSend(tx, sendId);
    if (reservation.previous) await saveCode(tx, reservation.previous);
    else await deleteCode(tx, request.interactionUid, request.purpose);
  });
}

/** How often a check reads the code again after the row changed under it, before giving up. */
const MAX_CHECK_ROUNDS = 8;

/**
 * The check itself. One check for both forms of the secret: `matches` tells whether the typed code or
 * the link's token is the row's, everything else (gate, tries, expiry, single use) is the same row's.
 *
 * No lock is held: the row is read, and the outcome written only if the row is still as read
 * (recordWrongGuess, consumeCode compare and set). When it changed in between (another guess
 * counted, a use, a resend), the check starts over on the row as it now is, so guesses arriving
 * together on any instance come out as if made one after the other. On PostgreSQL that is one write
 * on a pooled connection instead of a three-round-trip transaction; the reads share SharedReads.
 * A right guess writes nothing here: its use is the caller's to make (CodeUse), with what it proves.
 */
async function checkSecret(
  db: Database,
  {
    interactionUid,
    purpose,
    matches,
    at,
    rules,
    gate,
    read,
  }: { interactionUid: string; purpose: string; matches: (record: CodeRecord) => boolean; at: number; rules: CodePolicy; gate?: VerifyGate; read?: Promise<CodeRecord | undefined> },
): Promise<LinkVerifyResult> {
  // Each round that ends in a retry follows a change another caller made, and those are few (tries
  // are capped, sends too); the bound only keeps a pathological storm from spinning.
  for (let round = 0; round < MAX_CHECK_ROUNDS; round += 1) {
    // The first round may use the caller's read, started before (see CodeService.read).
    const record = await (round === 0 && read ? read : findCode(db, interactionUid, purpose));
    if (!record) return { status: 'missing' };
    // Nothing counts once the row is used; the secret is compared only to tell the link's "already used" page.
    if (record.consumedAt !== null) return matches(record) ? { status: 'used' } : { status: 'missing' };
    const state = describeCode(record, at, rules);
    if (gate) {
      const lock = await gate(record.email);
      if (lock.locked) return { status: 'locked', lock, state };
    }
    if (record.failedAttempts >= rules.maxAttempts) return { status: 'dead', state };
    if (record.expiresAt <= at) return { status: 'expired', state };
    const seen = { interactionUid, purpose, codeHmac: record.codeHmac, maxAttempts: rules.maxAttempts };
    if (!matches(record)) {
      const failures = await recordWrongGuess(db, seen);
      if (failures === undefined) continue;
      return {
        status: 'wrong',
        attemptsLeft: Math.max(0, rules.maxAttempts - failures),
        state: describeCode({ ...record, failedAttempts: failures }, at, rules),
      };
    }
    const use: CodeUse = async (q) => {
      if (!(await consumeCode(q, seen, at))) throw new CodeChangedMeanwhile();
    };
    return { status: 'ok', email: record.email, use };
  }
  return { status: 'missing' };
}

/**
 * One-time codes. Only an HMAC of the code is stored, keyed by a server secret and bound to the
 * interaction, purpose and address, so a code is useless anywhere else and a database leak does not
 * reveal live codes.
 */
export function createCodeService({
  db,
  hmacKeys,
  policy,
  now = Date.now,
  generate = sixDigits,
  sleep,
  answerWithinMs = 8_000,
  certainlyNotSent = () => true,
}: CodeServiceDeps) {
  if (!hmacKeys()[0]) throw new Error('no verification-code HMAC key');
  const delay = sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let typicalDeliveryMs = 150;

  return {
    /**
     * The interaction's code row, to hand to state, verify or verifyLink later: a route reads it
     * alongside the interaction (its key is in the URL), one round trip for both on PostgreSQL.
     */
    read(interactionUid: string, purpose: string): Promise<CodeRecord | undefined> {
      return findCode(db, interactionUid, purpose);
    },

    /** `read`: the row as this.read() gave it, else it is read now. */
    async state(interactionUid: string, purpose: string, read?: Promise<CodeRecord | undefined>): Promise<CodeState | undefined> {
      const record = await (read ?? findCode(db, interactionUid, purpose));
      return record && describeCode(record, now(), await policy());
    },

    /** The address a code of this interaction proved, if it was used within `maxAgeMs`. */
    async verifiedEmail(interactionUid: string, purpose: string, maxAgeMs = 15 * 60_000): Promise<string | undefined> {
      const record = await findCode(db, interactionUid, purpose);
      if (!record || record.consumedAt === null || record.consumedAt < now() - maxAgeMs) return undefined;
      return record.email;
    },

    /**
     * Reserve, deliver, and refund only when the mail certainly did not leave: a slow or silent SMTP
     * server must not let mails through uncounted (the caps hold however the server behaves). A
     * delivery still running at the answer deadline keeps going; the person is told the mail may be
     * late and the code stands.
     */
    async issue(request: IssueRequest): Promise<IssueResult> {
      const at = now();
      const rules = await policy();
      const code = generate();
      const sendId = randomId();
      const [signingKey] = hmacKeys();
      const codeHmac = (binding: Binding) => codeMac(signingKey!, binding, code).toString('base64url');
      const linkToken = request.link ? newLinkToken() : undefined;
      const link = linkToken
        ? (binding: Binding) => ({ hmac: linkMac(signingKey!, binding, linkToken).toString('base64url'), sealedCode: sealCode(linkToken, binding, code) })
        : undefined;
      const reservation = await db.transaction().execute((tx) => reserve(tx, request, rules, at, { codeHmac, link, sendId }));
      if (reservation.status !== 'reserved') return reservation;
      const { expiresAt } = reservation.record;

      if (request.phantom) {
        // Nobody receives this code; wait about as long as a real delivery so timing tells nothing.
        await delay(typicalDeliveryMs);
        return { status: 'sent', expiresAt };
      }
      const started = Date.now();
      const outcome = await deliverWithin(request, code, expiresAt, linkToken, answerWithinMs);
      if (outcome === 'late') return { status: 'uncertain', expiresAt };
      if (outcome.ok) {
        typicalDeliveryMs = Math.round(typicalDeliveryMs * 0.8 + (Date.now() - started) * 0.2);
        return { status: 'sent', expiresAt };
      }
      if (!certainlyNotSent(outcome.error)) return { status: 'uncertain', expiresAt, error: outcome.error };
      await refund(db, request, reservation, sendId);
      return { status: 'delivery_failed', error: outcome.error };
    },

    /**
     * Checks a code. A correct one comes back with its use (CodeUse), a compare and set that succeeds
     * once, so the code works exactly once. `gate` is asked first, about the address the code went to.
     * `read`: the row as this.read() gave it.
     */
    async verify(interactionUid: string, purpose: string, code: string, gate?: VerifyGate, read?: Promise<CodeRecord | undefined>): Promise<VerifyResult> {
      const at = now();
      const rules = await policy();
      const keys = hmacKeys();
      const matches = (record: CodeRecord) => /^\d{6}$/.test(code) && matchesAnyKey(keys, record, code);
      const result = await checkSecret(db, { interactionUid, purpose, matches, at, rules, gate, read });
      // A code page knows no "already used": a used code is as good as none (the flow starts over).
      return result.status === 'used' ? { status: 'missing' } : result;
    },

    /**
     * The sign-in link used in the browser that started the sign-in: exactly a code's check (same
     * row, same gate, a wrong token counts as a wrong code, a right one's use consumes the row so the
     * code dies with it).
     */
    async verifyLink(interactionUid: string, purpose: string, token: string, gate?: VerifyGate): Promise<LinkVerifyResult> {
      const at = now();
      const rules = await policy();
      const keys = hmacKeys();
      const matches = (record: CodeRecord) => linkMatches(keys, record, record.linkHmac, token);
      return checkSecret(db, { interactionUid, purpose, matches, at, rules, gate });
    },

    /**
     * The sign-in link opened anywhere else (another browser, a mail app's preview, a link scanner):
     * read only. Nothing is spent or counted, and the code is shown only to a holder of the token.
     */
    async peekLink(interactionUid: string, purpose: string, token: string): Promise<LinkPeek> {
      const record = await findCode(db, interactionUid, purpose);
      if (!record || !linkMatches(hmacKeys(), record, record.linkHmac, token)) return { status: 'invalid' };
      const rules = await policy();
      const state = describeCode(record, now(), rules);
      if (state.consumed) return { status: 'used', email: record.email };
      if (state.dead) return { status: 'dead', email: record.email };
      if (state.expired) return { status: 'expired', email: record.email };
      const code = openCode(token, record, record.linkCode);
      if (!code) return { status: 'invalid' };
      return { status: 'valid', code, email: record.email, expiresAt: record.expiresAt };
    },

    /** `on`: a transaction to forget it in (default: at once). */
    async forget(interactionUid: string, purpose: string, on: Queryable = db): Promise<void> {
      await deleteCode(on, interactionUid, purpose);
    },
  };
}

export type CodeService = ReturnType<typeof createCodeService>;
