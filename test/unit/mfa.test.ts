import { describe, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import { groupedSecret, matchingStep, newTotpSecret, qrSvg, totpUri } from '../../src/mfa/totp.ts';
import { BACKUP_CODE_COUNT, hashBackupCode, newBackupCodes, normalizeBackupCode } from '../../src/mfa/backup-codes.ts';

// RFC 6238 appendix B: the SHA-1 seed "12345678901234567890", 8-digit vectors; the last 6 digits are the 6-digit codes.
const RFC_SECRET = new Secret({ buffer: new TextEncoder().encode('12345678901234567890').buffer }).base32;
const VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
];

describe('TOTP', () => {
  it('matches the RFC 6238 SHA-1 test vectors (6 digits) at their time step', () => {
    for (const [seconds, code] of VECTORS) {
      const at = seconds * 1000;
      expect(matchingStep(RFC_SECRET, code.slice(2), at)).toBe(Math.floor(seconds / 30));
    }
  });

  it('accepts one step either side and nothing further', () => {
    const secret = newTotpSecret();
    const now = 1_800_000_000_000;
    const codeAt = (ms: number) => TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: ms });
    const step = Math.floor(now / 30_000);
    expect(matchingStep(secret, codeAt(now), now)).toBe(step);
    expect(matchingStep(secret, codeAt(now - 30_000), now)).toBe(step - 1);
    expect(matchingStep(secret, codeAt(now + 30_000), now)).toBe(step + 1);
    expect(matchingStep(secret, codeAt(now - 60_000), now)).toBeUndefined();
    expect(matchingStep(secret, codeAt(now + 60_000), now)).toBeUndefined();
  });

  it('makes 160-bit base32 secrets, an otpauth URI apps read, and an SVG QR code', async () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(groupedSecret('ABCDEFGHIJ')).toBe('ABCD EFGH IJ');
    const uri = totpUri(secret, 'id.example.com', 'ada@example.com');
    expect(uri).toBe(`otpauth://totp/id.example.com:ada%40example.com?issuer=id.example.com&secret=${secret}&algorithm=SHA1&digits=6&period=30`);
    const svg = await qrSvg(uri);
    expect(svg).toMatch(/^<svg[^>]*viewBox/);
    expect(svg).not.toContain('<script');
  });
});

describe('backup codes', () => {
  it('makes ten distinct codes of the documented shape', () => {
    const codes = newBackupCodes();
    expect(codes).toHaveLength(BACKUP_CODE_COUNT);
    expect(new Set(codes).size).toBe(BACKUP_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$/);
  });

  it('reads a typed code leniently (case, spaces, dashes) and refuses what cannot be one', () => {
    expect(normalizeBackupCode(' ABCDE-23456 ')).toBe('abcde23456');
    expect(normalizeBackupCode('abcde 23456')).toBe('abcde23456');
    expect(normalizeBackupCode('abcde-2345')).toBeUndefined();
    expect(normalizeBackupCode('abcde-23450')).toBeUndefined();
    expect(normalizeBackupCode('')).toBeUndefined();
  });

  it('hashes per account: the same code of two accounts hashes differently', () => {
    expect(hashBackupCode('a', 'abcde23456')).not.toBe(hashBackupCode('b', 'abcde23456'));
    expect(hashBackupCode('a', 'abcde23456')).toMatch(/^[0-9a-f]{64}$/);
  });
});
