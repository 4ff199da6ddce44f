import { z } from 'zod';
import type { Queryable } from '../db/database.ts';
import { cachedFromSettings, readSetting, writeSetting } from '../db/settings.ts';
import { firstIssue, integerIn, mustBeIntegerBetween, oneOf } from '../lib/validation.ts';
import { DEFAULT_LANGUAGE_INFO, LANGUAGES } from '../i18n/index.ts';

export const SIGN_IN_MODES = ['SignIn', 'Register', 'SignInAndRegister'] as const;
export const PASSWORD_AT_SIGN_UP = ['off', 'optional', 'required'] as const;
export const SIGN_IN_METHODS = ['verificationCode', 'password'] as const;
export type SignInMethod = (typeof SIGN_IN_METHODS)[number];
/** The second factor: off, optional (a person may turn it on, on their account page), required (set up at next sign-in). */
export const MFA_POLICIES = ['off', 'optional', 'required'] as const;
export type MfaPolicy = (typeof MFA_POLICIES)[number];

/**
 * Logto's MFA settings onto Sesame's three policies: no factors is off, UserControlled is optional,
 * Mandatory is required. Sesame's second factor is an authenticator app with backup codes; a passkey
 * is a way to sign in (counting as both factors), not a second factor, and Logto's prompt-only
 * policies have no equivalent.
 */
export const MFA_FACTORS = ['Totp', 'BackupCode'] as const;
export const MFA_API_POLICIES = ['UserControlled', 'Mandatory'] as const;
export const mfaToLogto = (policy: MfaPolicy) => ({ factors: policy === 'off' ? [] : [...MFA_FACTORS], policy: policy === 'required' ? ('Mandatory' as const) : ('UserControlled' as const) });

const intBetween = (name: string, min: number, max: number) => integerIn(min, max, mustBeIntegerBetween(name, min, max));

/** Operators' choices for how people sign up and sign in (Logto's "Sign-in experience"). */
export const experienceSchema = z
  .object({
    signInMode: oneOf('signInMode', SIGN_IN_MODES),
    passwordAtSignUp: oneOf('passwordAtSignUp', PASSWORD_AT_SIGN_UP),
    signInMethods: z
      .array(oneOf('signInMethods', SIGN_IN_METHODS))
      .min(1, 'signInMethods needs at least one of verificationCode, password')
      .transform((methods) => [...new Set(methods)]),
    verificationCode: z.object({
      // The security floor: at most 60 minutes and at most 5 tries.
      ttlMinutes: intBetween('verificationCode.ttlMinutes', 1, 60),
      maxAttempts: intBetween('verificationCode.maxAttempts', 1, 5),
      // The code's email also carries a sign-in link (the same secret, same lifetime and tries).
      link: z.boolean({ error: 'verificationCode.link must be true or false' }),
    }),
    passwordPolicy: z.object({
      minLength: intBetween('passwordPolicy.minLength', 8, 256),
      rejectEmail: z.boolean({ error: 'passwordPolicy.rejectEmail must be true or false' }),
      rejectCommon: z.boolean({ error: 'passwordPolicy.rejectCommon must be true or false' }),
    }),
    // Logto's shape. autoDetect: follow the browser's Accept-Language; the app's ui_locales and the
    // person's own pick on the switcher are honoured either way (src/i18n chooseLanguage).
    languageInfo: z.object({
      autoDetect: z.boolean({ error: 'languageInfo.autoDetect must be true or false' }),
      fallbackLanguage: oneOf('languageInfo.fallbackLanguage', LANGUAGES),
    }),
    mfa: z.object({ policy: oneOf('mfa.policy', MFA_POLICIES) }),
  })
  .superRefine((experience, ctx) => {
    const passwordOnly = experience.signInMethods.length === 1 && experience.signInMethods[0] === 'password';
    if (passwordOnly && experience.passwordAtSignUp !== 'required' && experience.signInMode !== 'SignIn') {
      ctx.addIssue({
        code: 'custom',
        message:
          'signInMethods [password] alone needs passwordAtSignUp "required": accounts created without a password could never sign in',
      });
    }
  });

export type Experience = z.output<typeof experienceSchema>;

export const PASSWORD_MAX_LENGTH = 256;

export function defaultExperience(codeTtlMinutes = 10): Experience {
  return {
    signInMode: 'SignInAndRegister',
    passwordAtSignUp: 'off',
    signInMethods: ['verificationCode'],
    verificationCode: { ttlMinutes: codeTtlMinutes, maxAttempts: 5, link: true },
    passwordPolicy: { minLength: 8, rejectEmail: true, rejectCommon: true },
    languageInfo: { ...DEFAULT_LANGUAGE_INFO },
    mfa: { policy: 'off' },
  };
}

const KEY = 'sign_in_experience';

export interface ExperienceChanges {
  signInMode?: unknown;
  passwordAtSignUp?: unknown;
  signInMethods?: unknown;
  verificationCode?: { ttlMinutes?: unknown; maxAttempts?: unknown; link?: unknown };
  passwordPolicy?: { minLength?: unknown; rejectEmail?: unknown; rejectCommon?: unknown };
  languageInfo?: { autoDetect?: unknown; fallbackLanguage?: unknown };
  mfa?: { policy?: unknown };
}

function merge(base: Experience, changes: ExperienceChanges | undefined): Record<string, unknown> {
  return {
    ...base,
    ...changes,
    verificationCode: { ...base.verificationCode, ...changes?.verificationCode },
    passwordPolicy: { ...base.passwordPolicy, ...changes?.passwordPolicy },
    languageInfo: { ...base.languageInfo, ...changes?.languageInfo },
    mfa: { ...base.mfa, ...changes?.mfa },
  };
}

/**
 * The stored experience over the defaults (the code lifetime from CODE_TTL_MINUTES). A sign-in uses
 * it about ten times, so it is parsed and validated again only when a setting changed (see
 * cachedFromSettings), and a change made with the CLI still applies at once, without a restart.
 */
const cachedExperience = cachedFromSettings(async (db: Queryable, codeTtlMinutes: number) => {
  const stored = (await readSetting<ExperienceChanges>(db, KEY))?.value;
  const parsed = experienceSchema.safeParse(merge(defaultExperience(codeTtlMinutes), stored));
  const experience = parsed.success ? parsed.data : defaultExperience(codeTtlMinutes);
  // Shared by every caller until a setting changes, so nobody may modify it.
  for (const part of [experience.signInMethods, experience.verificationCode, experience.passwordPolicy, experience.languageInfo, experience.mfa, experience]) Object.freeze(part);
  return experience;
});

export function loadExperience(db: Queryable, codeTtlMinutes = 10): Promise<Experience> {
  return cachedExperience(db, codeTtlMinutes);
}

export class InvalidExperienceError extends Error {}

/** Validates the whole result, so an invalid combination is refused and nothing is written. */
export async function saveExperience(db: Queryable, changes: ExperienceChanges, at: number, codeTtlMinutes = 10): Promise<Experience> {
  const stored = (await readSetting<ExperienceChanges>(db, KEY))?.value;
  const current = experienceSchema.safeParse(merge(defaultExperience(codeTtlMinutes), stored));
  const base = current.success ? current.data : defaultExperience(codeTtlMinutes);
  const next = experienceSchema.safeParse(merge(base, changes));
  if (!next.success) throw new InvalidExperienceError(firstIssue(next.error));
  const toStore = merge(base, changes);
  await writeSetting(db, KEY, { ...stored, ...toStore }, at);
  return next.data;
}

export const allowsSignUp = (experience: Experience) => experience.signInMode !== 'SignIn';
export const allowsSignIn = (experience: Experience) => experience.signInMode !== 'Register';
export const offersCode = (experience: Experience) => experience.signInMethods.includes('verificationCode');
export const offersPassword = (experience: Experience) => experience.signInMethods.includes('password');
