import { describe, expect, it } from 'vitest';
import { MAX_PASSKEY_NAME, passkeyNameSchema, relyingParty } from '../../src/passkeys/webauthn.ts';
import { deviceName } from '../../src/passkeys/device-name.ts';

describe('passkey names', () => {
  it('trims, folds white space and control characters, and bounds the length', () => {
    expect(passkeyNameSchema.parse('  Work \t laptop\n')).toBe('Work laptop');
    expect(passkeyNameSchema.parse('Key\u0000\u202Eone')).toBe('Key one');
    expect(passkeyNameSchema.safeParse('   ').success).toBe(false);
    expect(passkeyNameSchema.safeParse('x'.repeat(MAX_PASSKEY_NAME)).success).toBe(true);
    const long = passkeyNameSchema.safeParse('x'.repeat(MAX_PASSKEY_NAME + 1));
    expect(long.success).toBe(false);
    expect(long.error?.issues[0]?.message).toContain(`at most ${MAX_PASSKEY_NAME}`);
  });

  it('suggests a first name from the browser', () => {
    expect(deviceName('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15')).toBe('Safari on Mac');
    expect(deviceName('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36')).toBe('Chrome on Android');
    expect(deviceName('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0')).toBe('Edge on Windows');
    expect(deviceName('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15')).toBe('Firefox on iPhone');
    expect(deviceName(undefined)).toBe('My passkey');
  });

  it('takes the relying party from ENDPOINT: its host name and origin', () => {
    expect(relyingParty('https://id.example.com/sesame')).toEqual({ id: 'id.example.com', origin: 'https://id.example.com', name: 'Sesame' });
    expect(relyingParty('http://localhost:3001')).toMatchObject({ id: 'localhost', origin: 'http://localhost:3001' });
  });
});
