import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { ARGON2_OPTIONS, createPasswordHasher, passwordProblem } from '../../src/sign-in/passwords.ts';
import { english } from '../../src/sign-in/messages.ts';
import { defaultExperience, experienceSchema } from '../../src/sign-in/experience.ts';

const policy = defaultExperience().passwordPolicy;

describe('password policy', () => {
  it.each([
    ['1234567', 'at least 8'],
    ['password', 'most common'],
    ['Password1', 'most common'],
    ['ann@example.com', 'email'],
    ['y'.repeat(257), 'at most 256'],
    ['correct horse battery staple', undefined],
  ])('%j', (password, message) => {
    const problem = passwordProblem(password, 'ann@example.com', policy);
    if (message === undefined) expect(problem).toBeUndefined();
    else expect(problem && english(problem)).toContain(message);
  });
});

describe('password hashing', () => {
  it('uses argon2id at OWASP parameters and asks for a rehash when they change', async () => {
    const weak = await argon2.hash('secret secret', { ...ARGON2_OPTIONS, memoryCost: 4096, timeCost: 1 });
    const hasher = createPasswordHasher();
    expect(hasher.needsRehash(weak)).toBe(true);
    const strong = await hasher.hash('secret secret');
    expect(hasher.needsRehash(strong)).toBe(false);
    expect(await hasher.verify(strong, 'secret secret')).toBe(true);
    expect(await hasher.verify(strong, 'other')).toBe(false);
    expect(await hasher.verify(null, 'secret secret')).toBe(false);
  });
});

describe('sign-in experience validation', () => {
  const base = defaultExperience();
  it('refuses password-only sign-in when sign-ups may skip the password', () => {
    const result = experienceSchema.safeParse({ ...base, signInMethods: ['password'] });
    expect(result.success).toBe(false);
  });
  it('refuses an empty method list and codes beyond the security floor', () => {
    expect(experienceSchema.safeParse({ ...base, signInMethods: [] }).success).toBe(false);
    expect(experienceSchema.safeParse({ ...base, verificationCode: { ttlMinutes: 61, maxAttempts: 5 } }).success).toBe(false);
    expect(experienceSchema.safeParse({ ...base, verificationCode: { ttlMinutes: 10, maxAttempts: 6 } }).success).toBe(false);
    expect(experienceSchema.safeParse({ ...base, passwordPolicy: { ...base.passwordPolicy, minLength: 4 } }).success).toBe(false);
  });
  it('accepts password-only sign-in with a required password', () => {
    expect(experienceSchema.safeParse({ ...base, signInMethods: ['password'], passwordAtSignUp: 'required' }).success).toBe(true);
  });
});
