import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpBrowser } from '../helpers/browser.ts';
import { codeFrom, startSmtpCatcher, type SmtpCatcher } from '../helpers/smtp.ts';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';

describe('logs in production', () => {
  let smtp: SmtpCatcher;
  let sesame: TestSesame;
  let logs = '';

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk.toString();
        done();
      },
    });
    sesame = await startTestSesame({
      smtpPort: smtp.port,
      env: { NODE_ENV: 'production' },
      sesame: { logger: { level: 'trace', stream } },
    });
  });
  afterAll(async () => {
    await sesame?.stop();
    await smtp?.close();
  });

  it('never contain a verification code, even at trace level', async () => {
    const app = await sesame.registerApp();
    const config = await discover(sesame.issuer, app);
    const start = await startAuthorization(config, app.redirectUris[0]!);
    const email = 'quiet@example.com';
    const { callback } = await signInWithEmail(new HttpBrowser(), smtp, start, email, app.redirectUris[0]!);
    await exchange(config, callback, start);
    const code = codeFrom(smtp.mails.at(-1)!);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('/interaction/');
    // Bounded by non-digits so a timestamp that happens to contain the digits does not count.
    expect(logs).not.toMatch(new RegExp(`(?<!\\d)${code}(?!\\d)`));
  });
});
