import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser } from '../helpers/browser.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { discover, exchange, startAuthorization } from '../helpers/oidc.ts';
import { sesameCli } from '../helpers/cli.ts';
import type { Application } from '../../src/db/applications.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';
import { saveEmailConnector, removeEmailConnector } from '../../src/management/email-connector.ts';
import { CLI } from '../../src/management/audit.ts';
import { signedInBrowser } from '../helpers/session.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

/** The `<html>` element's language and direction. */
const htmlTag = (body: string) => /<html lang="([^"]+)" dir="([^"]+)">/.exec(body)?.slice(1);
const h1 = (body: string) => /<h1[^>]*>([^<]*)<\/h1>/.exec(body)?.[1]?.trim();

describe('pages and emails in the reader’s language', () => {
  let sesame: TestSesameWithMail;
  let app: Application;
  let config: client.Configuration;

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    app = await sesame.registerApp({ name: 'Buchladen' });
    config = await discover(sesame.issuer, app);
  });
  afterAll(() => sesame?.stop());

  it('follows ui_locales through the whole sign-in, and mails the code in that language', async () => {
    const email = 'ui.locales@example.com';
    const start = await startAuthorization(config, REDIRECT, { ui_locales: 'tlh de-CH en' });
    const browser = new HttpBrowser({ 'accept-language': 'fr' });
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    expect(htmlTag(emailPage.body)).toEqual(['de', 'ltr']);
    expect(h1(emailPage.body)).toBe('Anmelden');
    expect(emailPage.body).toContain('um mit <strong>Buchladen</strong> fortzufahren');

    // A refused address comes back in German too, with the error message translated.
    const refused = await browser.submit(emailPage, '/email', { email: 'not-an-address' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('Geben Sie eine E-Mail-Adresse wie name@example.com ein.');

    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(refused, '/email', { email });
    expect(h1(codePage.body)).toBe('Prüfen Sie Ihr Postfach');
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    expect(mail.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Buchladen');
    // The sign-in link (on by default) is in German too: its line, its button, its expiry shared with the code.
    expect(mail.text).toContain('Dieser Code und dieser Link sind 10 Minuten gültig');
    expect(mail.text).toContain('Oder öffnen Sie diesen Link in dem Browser, in dem Sie den Code angefordert haben:');
    expect(mail.html).toContain('>E-Mail-Adresse bestätigen</a>');
    expect(mail.html).toContain('<html lang="de" dir="ltr"');

    const wrong = await browser.submit(codePage, '/code', { code: codeFrom(mail) === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain('Dieser Code ist nicht korrekt.');
    expect(wrong.body).toContain('Noch 4 Versuche.');

    // Full-width digits, as a Japanese input method types them, are the code's digits.
    const fullWidth = codeFrom(mail).replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    const done = await browser.submit(wrong, '/code', { code: fullWidth }, REDIRECT);
    expect(done.location?.startsWith(REDIRECT)).toBe(true);
    expect((await exchange(config, done.location!, start)).claims()!.email).toBe(email);

    // Signed in, the sign-out question follows the request's own ui_locales (RP-initiated logout carries it too).
    const signOut = await browser.request(`${sesame.issuer}/session/end?ui_locales=fr`);
    expect(signOut.status).toBe(200);
    expect(htmlTag(signOut.body)).toEqual(['fr', 'ltr']);
    expect(h1(signOut.body)).toBe('Se déconnecter\u00a0?');
  });

  it('uses Accept-Language by q-value without ui_locales, right to left for Arabic', async () => {
    const start = await startAuthorization(config, REDIRECT);
    const browser = new HttpBrowser({ 'accept-language': 'pt-BR, ar;q=0.9, en;q=0.8' });
    const page = await browser.follow(start.url);
    expect(htmlTag(page.body)).toEqual(['ar', 'rtl']);
    expect(h1(page.body)).toBe('تسجيل الدخول');
  });

  it('lets the switcher choose, over ui_locales, and come back to the same page', async () => {
    const start = await startAuthorization(config, REDIRECT, { ui_locales: 'fr' });
    const browser = new HttpBrowser();
    const page = await browser.follow(start.url);
    expect(htmlTag(page.body)).toEqual(['fr', 'ltr']);
    const link = /<a class="language" lang="ja" hreflang="ja" href="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
    expect(link).toBeDefined();
    const switched = await browser.request(new URL(link!, page.url).toString());
    expect(switched.status).toBe(303);
    expect(switched.location).toBe(page.url);
    const setCookie = switched.headers.getSetCookie().find((line) => line.startsWith('sesame_lang='));
    expect(setCookie).toMatch(/^sesame_lang=ja; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/);
    const again = await browser.follow(switched.location!);
    expect(htmlTag(again.body)).toEqual(['ja', 'ltr']);
    expect(h1(again.body)).toBe('サインイン');
    expect(again.body).toContain('<span class="language language-current" lang="ja" aria-current="true">日本語</span>');
  });

  it('never errs on bad language input, and never returns to another site', async () => {
    const browser = new HttpBrowser({ 'accept-language': ';;q=x, ,*;q=0.5, \u00ff' });
    browser.setCookie('sesame_lang=%00%3Cscript%3E; Path=/', sesame.issuer);
    const start = await startAuthorization(config, REDIRECT, { ui_locales: `${'x'.repeat(300)} <b> 12` });
    const page = await browser.follow(start.url);
    expect(page.status).toBe(200);
    expect(htmlTag(page.body)).toEqual(['en', 'ltr']);
    for (const target of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
      const answer = await browser.request(`${sesame.config.endpoint}/language/de?return=${encodeURIComponent(target)}`);
      expect(answer.status).toBe(303);
      expect(answer.location).toBe(`${sesame.config.endpoint}/`);
    }
    const unknown = await browser.request(`${sesame.config.endpoint}/language/klingon?return=/`);
    expect(unknown.status).toBe(303);
    expect(unknown.headers.getSetCookie()).toEqual([]);
  });

  it('translates oidc-provider’s own error page and our error pages by Accept-Language', async () => {
    const browser = new HttpBrowser({ 'accept-language': 'es-MX' });
    const badClient = await browser.request(`${sesame.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}`);
    expect(badClient.status).toBe(400);
    expect(htmlTag(badClient.body)).toEqual(['es', 'ltr']);
    expect(h1(badClient.body)).toBe('Aplicación desconocida');
    const missing = await browser.request(`${sesame.config.endpoint}/no/such/page`);
    expect(missing.status).toBe(404);
    expect(h1(missing.body)).toBe('Página no encontrada');
    // Programs still get English JSON.
    const json = await fetch(`${sesame.config.endpoint}/no/such/page`, { headers: { accept: 'application/json', 'accept-language': 'es' } });
    expect(await json.json()).toEqual({ error: 'Page not found', message: 'There is nothing at this address.' });
  });

  it('applies the operator’s languageInfo: autoDetect off ignores Accept-Language, ui_locales still counts', async () => {
    await saveExperience(sesame.db, { languageInfo: { autoDetect: false, fallbackLanguage: 'zh-CN' } }, Date.now());
    try {
      const browser = new HttpBrowser({ 'accept-language': 'de' });
      const plain = await browser.follow((await startAuthorization(config, REDIRECT)).url);
      expect(htmlTag(plain.body)).toEqual(['zh-CN', 'ltr']);
      expect(h1(plain.body)).toBe('登录');
      const asked = await browser.follow((await startAuthorization(config, REDIRECT, { ui_locales: 'es' })).url);
      expect(htmlTag(asked.body)).toEqual(['es', 'ltr']);
    } finally {
      await saveExperience(sesame.db, { languageInfo: { autoDetect: true, fallbackLanguage: 'en' } }, Date.now());
    }
  });

  it('sends the operator’s template for the person’s language, and the default one otherwise', async () => {
    await saveEmailConnector(
      sesame.db,
      {
        host: '127.0.0.1',
        port: sesame.smtp.port,
        fromEmail: 'no-reply@sesame.test',
        templates: [
          { usageType: 'Register', languageTag: 'ja', contentType: 'text/plain', subject: '登録コード {{code}}', content: 'コード: {{code}}' },
          { usageType: 'Register', contentType: 'text/plain', subject: 'Operator default {{code}}', content: 'Code: {{code}}' },
        ],
      },
      CLI,
    );
    try {
      const send = async (email: string, uiLocales: string) => {
        const browser = new HttpBrowser();
        const page = await browser.follow((await startAuthorization(config, REDIRECT, { ui_locales: uiLocales })).url);
        const before = sesame.smtp.countFor(email);
        await browser.submit(page, '/email', { email });
        return sesame.smtp.waitForMail(email, { after: before });
      };
      expect((await send('tmpl.ja@example.com', 'ja')).subject).toMatch(/^登録コード \d{6}$/);
      expect((await send('tmpl.fr@example.com', 'fr')).subject).toMatch(/^Operator default \d{6}$/);
    } finally {
      await removeEmailConnector(sesame.db, CLI);
    }
  });

  it('shows a sign-in link opened in another browser in that browser’s language, and a broken one in the switcher’s', async () => {
    const email = 'link.lang@example.com';
    const start = await startAuthorization(config, REDIRECT, { ui_locales: 'ja' });
    const asker = new HttpBrowser();
    const page = await asker.follow(start.url);
    const before = sesame.smtp.countFor(email);
    await asker.submit(page, '/email', { email });
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    expect(mail.text).toContain('または、コードをリクエストしたブラウザーでこのリンクを開いてください:');
    const link = /(https?:\/\/\S+\/link\?t=[A-Za-z0-9_-]{43})/.exec(mail.text)?.[1];
    expect(link).toBeDefined();

    // Another browser: no interaction, so its own Accept-Language, not the app's ui_locales.
    const elsewhere = await new HttpBrowser({ 'accept-language': 'fr-CA, en;q=0.5' }).follow(link!);
    expect(elsewhere.status).toBe(200);
    expect(htmlTag(elsewhere.body)).toEqual(['fr', 'ltr']);
    expect(h1(elsewhere.body)).toBe('Terminez dans votre autre navigateur');
    expect(elsewhere.body).toContain('Revenez au navigateur où vous avez commencé.');
    expect(elsewhere.body).toContain(codeFrom(mail));

    // A mangled link, in a browser whose switcher picked Arabic: the refusal in Arabic, right to left.
    const arabic = new HttpBrowser({ 'accept-language': 'de' });
    arabic.setCookie('sesame_lang=ar; Path=/', sesame.issuer);
    const broken = await arabic.follow(`${link!.slice(0, -2)}`);
    expect(broken.status).toBe(400);
    expect(htmlTag(broken.body)).toEqual(['ar', 'rtl']);
    expect(h1(broken.body)).toBe('هذا الرابط لا يعمل');
  });

  it('shows the account page in the browser’s language, then in the one picked on its switcher', async () => {
    const { browser } = await signedInBrowser(sesame, 'account.lang@example.com', { browser: new HttpBrowser({ 'accept-language': 'de-AT' }) });
    const endpoint = sesame.config.endpoint;
    const overview = await browser.follow(`${endpoint}/account`);
    expect(overview.status).toBe(200);
    expect(htmlTag(overview.body)).toEqual(['de', 'ltr']);
    expect(h1(overview.body)).toBe('Ihr Konto');
    expect(overview.body).toContain('Sie haben noch keine Passkeys.');
    // The switcher is on the account page too, and comes back to it.
    expect(overview.body).toContain('href="/language/zh-CN?return=/account"');

    const chinese = await browser.follow(`${endpoint}/language/zh-CN?return=/account/mfa`);
    expect(chinese.url).toBe(`${endpoint}/account/mfa`);
    expect(htmlTag(chinese.body)).toEqual(['zh-CN', 'ltr']);
    expect(h1(chinese.body)).toBe('两步验证');
    expect(chinese.body).toContain('此处不提供两步验证。');

    // Signed out: the standalone page speaks the picked language too.
    const signedOut = await browser.follow(`${endpoint}/account/signed-out`);
    expect(h1(signedOut.body)).toBe('已退出登录');
  });

  it('names the account page in the person’s language on its sign-in pages and in the code mail', async () => {
    const browser = new HttpBrowser({ 'accept-language': 'de' });
    const emailPage = await browser.follow(`${sesame.config.endpoint}/account`);
    expect(emailPage.url).toContain('/interaction/');
    expect(emailPage.body).toContain('<strong>Ihr Sesame-Konto</strong>');
    expect(emailPage.body).not.toContain('Your Sesame account');
    const email = 'account.name@example.com';
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.body).toContain('<strong>Ihr Sesame-Konto</strong>');
    const mail = await sesame.smtp.waitForMail(email, { after: before });
    expect(mail.text).toContain('Ihr Sesame-Konto');
    expect(mail.text).not.toContain('Your Sesame account');
  });

  it('sets languageInfo through the CLI, refusing a language Sesame does not have', async () => {
    const cli = await sesameCli(['experience', 'set', '--fallback-language', 'ar', '--auto-detect-language', 'false'], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).languageInfo).toEqual({ autoDetect: false, fallbackLanguage: 'ar' });
    const bad = await sesameCli(['experience', 'set', '--fallback-language', 'pt'], { cwd: sesame.dir, database: sesame.databaseUrl });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--fallback-language must be one of en, de, fr, es, ja, zh-CN, ar');
    await saveExperience(sesame.db, { languageInfo: { autoDetect: true, fallbackLanguage: 'en' } }, Date.now());
  });
});
