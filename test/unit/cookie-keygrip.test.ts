import Keygrip from 'keygrip';
import { describe, expect, it } from 'vitest';
import { cookieKeygrip } from '../../src/oidc/cookie-keygrip.ts';

/** koa's signed cookies: our keygrip must sign and accept exactly what keygrip does (cookies outlive restarts and upgrades). */
describe('cookieKeygrip', () => {
  const keys = ['first-key-0123456789abcdefghijklmnopqrstuv', 'second-key-0123456789abcdefghijklmnopqrstu', 'third'];
  const data = ['_interaction=abc123', '_session=Zm9vYmFy; path=/', '', 'ünïcödé=✓'];

  it('signs as keygrip does, with the first key', () => {
    const theirs = new Keygrip(keys);
    const ours = cookieKeygrip(keys);
    for (const value of data) expect(ours.sign(value)).toBe(theirs.sign(value));
  });

  it('finds the key a signature was made with, as keygrip does, and refuses anything else', () => {
    const ours = cookieKeygrip(keys);
    for (const [i, key] of keys.entries()) {
      const signed = new Keygrip([key]).sign('_session=xyz');
      expect(ours.index('_session=xyz', signed)).toBe(i);
      expect(ours.verify('_session=xyz', signed)).toBe(true);
    }
    const good = ours.sign('_session=xyz');
    for (const bad of [good.slice(1), `${good}A`, good.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), '', new Keygrip(['unknown']).sign('_session=xyz')]) {
      expect(ours.index('_session=xyz', bad)).toBe(-1);
      expect(ours.verify('_session=xyz', bad)).toBe(false);
    }
    expect(ours.index('_session=other', good)).toBe(-1);
    expect(ours.index('_session=xyz', undefined as unknown as string)).toBe(-1);
  });

  it('refuses an empty key list', () => {
    expect(() => cookieKeygrip([])).toThrow();
  });
});
