import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';

describe('logs in production', () => {
  let sesame: TestSesameWithMail;
  let logs = '';

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    sesame = await startSesameWithMail({
      env: { NODE_ENV: 'production' },
      sesame: { logger: { level: 'trace', stream } },
    });
  });
  afterAll(() => sesame?.stop());

  it('never contain a verification code, even at trace level', async () => {
    const app = await sesame.registerApp();
    const config = await discover(sesame.issuer, app);
    const start = await startAuthorization(config, app.redirectUris[0]!);
    const email = 'quiet@example.com';
    const { callback } = await signInWithEmail(new HttpBrowser(), sesame.smtp, start, email, app.redirectUris[0]!);
    await exchange(config, callback, start);
    const code = codeFrom(sesame.smtp.mails.at(-1)!);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('/interaction/');
    // Bounded by non-digits so a timestamp that happens to contain the digits does not count.
    expect(logs).not.toMatch(new RegExp(`(?<!\\d)${code}(?!\\d)`));
  });
});
