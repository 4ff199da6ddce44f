import type { Database, Queryable } from '../db/database.ts';
import {
  confirmTotp,
  consumeBackupCode,
  consumeTotpStep,
  deleteSecondFactorsOf,
  findBackupCodeSet,
  findTotp,
  replaceBackupCodes,
  startTotpEnrolment,
  type BackupCodeSet,
} from '../db/mfa.ts';
import { randomId } from '../lib/random.ts';
import type { MfaPolicy } from '../sign-in/experience.ts';
import { hashBackupCode, newBackupCodes, normalizeBackupCode } from './backup-codes.ts';
import { groupedSecret, matchingStep, newTotpSecret, qrSvg, totpUri } from './totp.ts';

/** An enrolment shown but not confirmed is reused this long, so reloading the page keeps the same QR code. */
const ENROLMENT_REUSE_MS = 30 * 60_000;

/** What an authenticator app needs to be set up: the QR code, and the same secret as text. */
export interface Enrolment {
  secret: string;
  /** The secret in groups of four, for typing. */
  secretText: string;
  uri: string;
  /** An SVG document made here; safe to put into a page as is. */
  qrSvg: string;
}

export type TotpCheck = 'ok' | 'wrong' | 'reused';

/**
 * A person's second factor: an authenticator app (TOTP) with ten backup codes. Having a confirmed
 * authenticator is what "enrolled" means; backup codes come with it and go with it.
 */
export function createSecondFactor(options: { db: Database; now: () => number; issuer: string }) {
  const { db, now, issuer } = options;

  async function enrolled(userId: string, on: Queryable = db): Promise<boolean> {
    return (await findTotp(on, userId))?.confirmedAt != null;
  }

  return {
    enrolled,

    /**
     * What a sign-in without a second factor in its amr must do next: prove one, set one up, or
     * nothing. `known`: whether the person is enrolled, when the caller read it with the account.
     */
    async needed(userId: string, policy: MfaPolicy, known?: boolean): Promise<'verify' | 'setup' | undefined> {
      if (known ?? (await enrolled(userId))) return 'verify';
      return policy === 'required' ? 'setup' : undefined;
    },

    /** Starts setting up an authenticator (or shows the one being set up); undefined if one is already set up. */
    async beginEnrolment(userId: string, account: string): Promise<Enrolment | undefined> {
      const existing = await findTotp(db, userId);
      if (existing?.confirmedAt != null) return undefined;
      let secret = existing && now() - existing.createdAt < ENROLMENT_REUSE_MS ? existing.secret : undefined;
      if (!secret) {
        secret = newTotpSecret();
        if (!(await startTotpEnrolment(db, { id: randomId(), userId, secret, createdAt: now() }))) return undefined;
      }
      const uri = totpUri(secret, issuer, account);
      return { secret, secretText: groupedSecret(secret), uri, qrSvg: await qrSvg(uri) };
    },

    /**
     * Confirms the enrolment in progress with a code from the app, and issues the first backup codes
     * (returned to be shown once). 'wrong': not a current code of the secret shown; 'gone': no
     * enrolment in progress (finished in another tab, or reset).
     */
    async confirmEnrolment(userId: string, code: string): Promise<{ status: 'ok'; backupCodes: string[] } | { status: 'wrong' | 'gone' }> {
      const pending = await findTotp(db, userId);
      if (!pending || pending.confirmedAt !== null) return { status: 'gone' };
      const step = matchingStep(pending.secret, code, now());
      if (step === undefined) return { status: 'wrong' };
      return db.transaction().execute(async (tx) => {
        if (!(await confirmTotp(tx, userId, pending.secret, step, now()))) return { status: 'gone' as const };
        return { status: 'ok' as const, backupCodes: await issueBackupCodes(tx, userId) };
      });
    },

    /** Checks a code from the authenticator app and uses its time step up. */
    async verifyTotp(userId: string, code: string): Promise<TotpCheck> {
      const totp = await findTotp(db, userId);
      if (!totp || totp.confirmedAt === null) return 'wrong';
      const step = matchingStep(totp.secret, code, now());
      if (step === undefined) return 'wrong';
      return (await consumeTotpStep(db, userId, step)) ? 'ok' : 'reused';
    },

    /** Checks a backup code and uses it up. */
    async verifyBackupCode(userId: string, typed: string): Promise<boolean> {
      const code = normalizeBackupCode(typed);
      return code !== undefined && consumeBackupCode(db, userId, hashBackupCode(userId, code), now());
    },

    /** A new set of backup codes, replacing the old (to be shown once). */
    regenerateBackupCodes(userId: string): Promise<string[]> {
      return db.transaction().execute((tx) => issueBackupCodes(tx, userId));
    },

    backupCodes(userId: string): Promise<BackupCodeSet | undefined> {
      return findBackupCodeSet(db, userId);
    },

    /** Turns the second factor off: the authenticator and the backup codes. */
    async disable(userId: string, on: Queryable = db): Promise<void> {
      await deleteSecondFactorsOf(on, userId);
    },
  };

  async function issueBackupCodes(tx: Queryable, userId: string): Promise<string[]> {
    const codes = newBackupCodes();
    await replaceBackupCodes(tx, userId, {
      setId: randomId(),
      at: now(),
      codes: codes.map((code) => ({ id: randomId(), hash: hashBackupCode(userId, normalizeBackupCode(code)!) })),
    });
    return codes;
  }
}

export type SecondFactor = ReturnType<typeof createSecondFactor>;
