import { z } from 'zod';
import type { Queryable } from '../db/database.ts';
import { readSetting, writeSetting } from '../db/settings.ts';
import { firstIssue } from '../lib/validation.ts';

export const SIGN_IN_MODES = ['SignIn', 'Register', 'SignInAndRegister'] as const;

export const experienceSchema = z.object({
  signInMode: z.enum(SIGN_IN_MODES, {
    error: (issue) => `signInMode must be one of ${SIGN_IN_MODES.join(', ')}, got ${JSON.stringify(issue.input)}`,
  }),
});

export type Experience = z.output<typeof experienceSchema>;

export const DEFAULT_EXPERIENCE: Experience = { signInMode: 'SignInAndRegister' };

const KEY = 'sign_in_experience';

/** Read on every use so a change made with the CLI applies at once, without a restart. */
export async function loadExperience(db: Queryable): Promise<Experience> {
  const stored = await readSetting<Partial<Experience>>(db, KEY);
  return { ...DEFAULT_EXPERIENCE, ...stored?.value };
}

export async function saveExperience(db: Queryable, changes: Partial<Experience>, at: number): Promise<Experience> {
  const merged = experienceSchema.safeParse({ ...(await loadExperience(db)), ...changes });
  if (!merged.success) throw new Error(firstIssue(merged.error));
  await writeSetting(db, KEY, merged.data, at);
  return merged.data;
}

export const allowsSignUp = (experience: Experience) => experience.signInMode !== 'SignIn';
export const allowsSignIn = (experience: Experience) => experience.signInMode !== 'Register';
