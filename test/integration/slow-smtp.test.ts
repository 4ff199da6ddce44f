import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser } from '../helpers/browser.ts';
import { codeFrom, startSmtpCatcher, type SmtpCatcher } from '../helpers/smtp.ts';
import { startTestSesame, type TestSesame } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import { writeSetting } from '../../src/db/settings.ts';
import { SMTP_CONNECTOR_SETTING } from '../../src/mail/mail-source.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

// Hardening item 7: an SMTP server that takes longer to acknowledge a mail than the person waits
// used to get the send refunded while the mail still arrived, so the per-address cap leaked.
describe('a slow SMTP server', () => {
  let smtp: SmtpCatcher;
  let sesame: TestSesame;
  let config: client.Configuration;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    // The server keeps every mail but acknowledges it only after Sesame's socket timeout: the client
    // sees a timeout after DATA and cannot know the mail was accepted.
    smtp.delayMs = 1500;
    sesame = await startTestSesame({ env: { TRUST_PROXY: '127.0.0.1' }, sesame: { mailAnswerWithinMs: 5000 } });
    await writeSetting(
      sesame.db,
      SMTP_CONNECTOR_SETTING,
      { host: '127.0.0.1', port: smtp.port, fromEmail: 'Sesame <no-reply@sesame.test>', socketTimeout: 600 },
      Date.now(),
    );
    config = await discover(sesame.issuer, await sesame.registerApp());
  });
  afterAll(async () => {
    await sesame?.stop();
    await smtp?.close();
  });

  it('cannot push mails past the per-address cap, and the late mail’s code still works', async () => {
    const email = `slow.${Date.now()}@example.com`;
    const attempts = [];
    for (let i = 0; i < 8; i += 1) {
      // Each request from another address, so only the per-address cap stands in the way.
      const browser = new HttpBrowser({ 'x-forwarded-for': `203.0.113.${i + 1}` });
      const page = await browser.follow((await startAuthorization(config, REDIRECT)).url);
      const started = Date.now();
      const codePage = await browser.submit(page, '/email', { email });
      attempts.push({ browser, codePage, tookMs: Date.now() - started });
    }
    const statuses = attempts.map((attempt) => attempt.codePage.status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    // The person was told the mail may be late (not "try again", which sent the next mail uncounted).
    expect(attempts[0]!.codePage.body).toContain('may take a few minutes');

    // Every reserved mail does arrive, and no more than the cap.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(smtp.countFor(email)).toBe(5);
    const newest = smtp.mails.filter((mail) => mail.to.includes(email)).at(-1)!;
    const last = attempts[4]!;
    const done = await last.browser.submit(last.codePage, '/code', { code: codeFrom(newest) }, REDIRECT);
    expect(done.location).toContain(REDIRECT);
  });
});
