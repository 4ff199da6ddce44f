import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../../src/sign-in/email.ts';
import { english } from '../../src/sign-in/messages.ts';

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    expect(normalizeEmail('  Ann.Lee+news@Example.COM ')).toEqual({ ok: true, email: 'ann.lee+news@example.com' });
  });

  it('accepts the longest address SMTP allows (254 characters, 64 before the @)', () => {
    const longest = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    expect(longest).toHaveLength(254);
    expect(normalizeEmail(longest)).toEqual({ ok: true, email: longest });
    expect(normalizeEmail(`x${longest}`).ok).toBe(false);
  });

  it.each([
    ['', 'Enter your email'],
    [undefined, 'Enter your email'],
    ['a@b', 'like name@example.com'],
    ['@example.com', 'like name@example.com'],
    ['a@@example.com', 'like name@example.com'],
    ['a..b@example.com', 'like name@example.com'],
    ['"quoted"@example.com', 'like name@example.com'],
    ['Ann <ann@example.com>', 'like name@example.com'],
    ['a@example.com,b@example.com', 'like name@example.com'],
    ['a@-bad-.com', 'like name@example.com'],
    ['a@127.0.0.1', 'like name@example.com'],
    ['a@example.com\r\nBcc: x@evil.example', 'line breaks'],
    [`${'a'.repeat(65)}@example.com`, 'before the @ is too long'],
    [`a@${'b'.repeat(250)}.com`, 'too long'],
  ])('refuses %j', (input, message) => {
    const result = normalizeEmail(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(english(result.error)).toContain(message);
  });
});
