import { z } from 'zod';
import type { Queryable } from '../db/database.ts';
import { readSetting, readSettingText, writeSetting } from '../db/settings.ts';
import { firstIssue } from '../lib/validation.ts';

export const SIGN_IN_MODES = ['SignIn', 'Register', 'SignInAndRegister'] as const;
export const PASSWORD_AT_SIGN_UP = ['off', 'optional', 'required'] as const;
export const SIGN_IN_METHODS = ['verificationCode', 'password'] as const;
export type SignInMethod = (typeof SIGN_IN_METHODS)[number];

const got = (input: unknown) => `got ${JSON.stringify(input)}`;
const oneOf = (name: string, values: readonly string[]) => ({
  error: (issue: { input?: unknown }) => `${name} must be one of ${values.join(', ')}, ${got(issue.input)}`,
});
const intBetween = (name: string, min: number, max: number) =>
  z.number({ error: (issue) => `${name} must be an integer between ${min} and ${max}, ${got(issue.input)}` }).int({
    error: (issue) => `${name} must be an integer between ${min} and ${max}, ${got(issue.input)}`,
  }).min(min, { error: (issue) => `${name} must be an integer between ${min} and ${max}, ${got(issue.input)}` })
    .max(max, { error: (issue) => `${name} must be an integer between ${min} and ${max}, ${got(issue.input)}` });

/** Operators' choices for how people sign up and sign in (Logto's "Sign-in experience"). */
export const experienceSchema = z
  .object({
    signInMode: z.enum(SIGN_IN_MODES, oneOf('signInMode', SIGN_IN_MODES)),
    passwordAtSignUp: z.enum(PASSWORD_AT_SIGN_UP, oneOf('passwordAtSignUp', PASSWORD_AT_SIGN_UP)),
    signInMethods: z
      .array(z.enum(SIGN_IN_METHODS, oneOf('signInMethods', SIGN_IN_METHODS)))
      .min(1, 'signInMethods needs at least one of verificationCode, password')
      .transform((methods) => [...new Set(methods)]),
    verificationCode: z.object({
      // The security floor: at most 60 minutes and at most 5 tries.
      ttlMinutes: intBetween('verificationCode.ttlMinutes', 1, 60),
      maxAttempts: intBetween('verificationCode.maxAttempts', 1, 5),
    }),
    passwordPolicy: z.object({
      minLength: intBetween('passwordPolicy.minLength', 8, 256),
      rejectEmail: z.boolean({ error: 'passwordPolicy.rejectEmail must be true or false' }),
      rejectCommon: z.boolean({ error: 'passwordPolicy.rejectCommon must be true or false' }),
    }),
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
    verificationCode: { ttlMinutes: codeTtlMinutes, maxAttempts: 5 },
    passwordPolicy: { minLength: 8, rejectEmail: true, rejectCommon: true },
  };
}

const KEY = 'sign_in_experience';

export interface ExperienceChanges {
  signInMode?: unknown;
  passwordAtSignUp?: unknown;
  signInMethods?: unknown;
  verificationCode?: { ttlMinutes?: unknown; maxAttempts?: unknown };
  passwordPolicy?: { minLength?: unknown; rejectEmail?: unknown; rejectCommon?: unknown };
}

function merge(base: Experience, changes: ExperienceChanges | undefined): Record<string, unknown> {
  return {
    ...base,
    ...changes,
    verificationCode: { ...base.verificationCode, ...changes?.verificationCode },
    passwordPolicy: { ...base.passwordPolicy, ...changes?.passwordPolicy },
  };
}

let lastRead: { raw: string | undefined; codeTtlMinutes: number; experience: Experience } | undefined;

/**
 * Read on every use so a change made with the CLI applies at once, without a restart. Values not
 * stored fall back to the defaults (the code lifetime to CODE_TTL_MINUTES). A sign-in reads this
 * about ten times, so an unchanged stored document is not validated again.
 */
export async function loadExperience(db: Queryable, codeTtlMinutes = 10): Promise<Experience> {
  const raw = await readSettingText(db, KEY);
  if (lastRead && lastRead.raw === raw && lastRead.codeTtlMinutes === codeTtlMinutes) return lastRead.experience;
  const stored = raw === undefined ? undefined : (JSON.parse(raw) as ExperienceChanges);
  const parsed = experienceSchema.safeParse(merge(defaultExperience(codeTtlMinutes), stored));
  const experience = parsed.success ? parsed.data : defaultExperience(codeTtlMinutes);
  // Shared by every caller until the stored document changes, so nobody may modify it.
  for (const part of [experience.signInMethods, experience.verificationCode, experience.passwordPolicy, experience]) Object.freeze(part);
  lastRead = { raw, codeTtlMinutes, experience };
  return experience;
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
