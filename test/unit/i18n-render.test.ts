import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createViews } from '../../src/http/views.ts';
import { keysOf, LANGUAGES, Phrase, speech, type Language } from '../../src/i18n/index.ts';
import { lockoutMessage, message, scopeDescription, type MessageKey } from '../../src/sign-in/messages.ts';
import { describeOidcError } from '../../src/oidc/errors.ts';
import { renderMail } from '../../src/mail/render.ts';
import { parseSmtpConnectorConfig, USAGE_TYPES } from '../../src/mail/connector-config.ts';

/**
 * Every page and every built-in email, rendered in every language: no phrase missing, and no English
 * left on a page that is not English. What may stay the same in every language is listed in ALLOWED
 * (brand and app names, addresses, codes, the switcher's language names, developer text).
 */

const views = createViews(fileURLToPath(new URL('../../templates/pages', import.meta.url)), false);
const EMAIL_TEMPLATES = fileURLToPath(new URL('../../templates/email', import.meta.url));

const base = { productName: 'Sesame', csrfToken: 'csrf-token', appName: 'Bookstore' };
const uid = '/interaction/u1';
const providerForm = '<form id="op.logoutForm" method="post" action="/oidc/session/end/confirm"><input type="hidden" name="xsrf" value="x"/></form>';

/** Each page in each of its states (every branch that shows words), with the phrases the routes pass. */
const PAGES: Record<string, { template: string; data: Record<string, unknown> }> = {
  email: { template: 'email', data: { ...base, title: message('title.signIn'), action: `${uid}/email`, passwordUrl: `${uid}/password`, cancelAction: `${uid}/cancel`, error: message('email.invalid') } },
  emailPasswordOnly: { template: 'email', data: { ...base, title: message('title.signIn'), action: `${uid}/email`, hint: message('hint.passwordNext'), notice: message('send.resent') } },
  forgot: {
    template: 'email',
    data: { ...base, title: message('title.forgotPassword'), hint: message('hint.forgotPassword'), submitLabel: message('label.sendCode'), backUrl: uid, backLabel: message('label.backToSignIn'), action: `${uid}/forgot` },
  },
  emailDefaults: { template: 'email', data: { ...base, title: '', appName: undefined, action: `${uid}/email` } },
  code: {
    template: 'code',
    data: { ...base, title: message('title.checkEmail'), email: 'ada@example.com', action: `${uid}/code`, resendAction: `${uid}/resend`, resendInSeconds: 42, restartUrl: uid, cancelAction: `${uid}/cancel`, passwordUrl: `${uid}/password`, error: message('code.wrong'), attemptsLeft: 3, notice: message('send.slow') },
  },
  codeReady: { template: 'code', data: { ...base, title: '', email: 'ada@example.com', action: `${uid}/code`, resendAction: `${uid}/resend`, resendInSeconds: 0, restartUrl: uid } },
  codeDead: {
    template: 'code',
    data: { ...base, title: message('title.checkEmail'), email: 'ada@example.com', action: `${uid}/code`, resendAction: `${uid}/resend`, resendInSeconds: 30, codeDead: true, error: message('code.usedUp'), restartUrl: uid },
  },
  codeLocked: { template: 'code', data: { ...base, title: message('title.checkEmail'), email: 'ada@example.com', action: `${uid}/code`, error: lockoutMessage({ retryAfterSeconds: 900, scope: 'address' }) } },
  password: {
    template: 'password',
    data: { ...base, title: message('title.password'), email: 'ada@example.com', action: `${uid}/password`, forgotUrl: `${uid}/forgot`, codeAction: `${uid}/email`, restartUrl: uid, cancelAction: `${uid}/cancel`, error: message('password.mismatch') },
  },
  passwordLocked: { template: 'password', data: { ...base, title: '', action: `${uid}/password`, error: lockoutMessage({ retryAfterSeconds: 3 * 3600, scope: 'pair' }) } },
  newPassword: {
    template: 'new-password',
    data: { ...base, title: message('title.createPassword'), email: 'ada@example.com', minLength: 12, action: `${uid}/create-password`, submitLabel: message('label.createAccount'), skipAction: `${uid}/skip-password`, error: message('password.tooShort', { count: 12 }) },
  },
  resetPassword: { template: 'new-password', data: { ...base, title: message('title.resetPassword'), minLength: 8, action: `${uid}/reset-password`, submitLabel: message('label.saveAndSignIn'), error: message('password.common') } },
  newPasswordDefaults: { template: 'new-password', data: { ...base, title: '', action: `${uid}/create-password` } },
  consent: {
    template: 'consent',
    data: {
      ...base,
      title: message('title.consent', { appName: 'Bookstore' }),
      email: 'ada@example.com',
      action: `${uid}/consent`,
      scopes: ['openid', 'email', 'profile', 'offline_access'].map((name) => ({ name, description: scopeDescription(name) })),
    },
  },
  consentNoApp: { template: 'consent', data: { ...base, appName: undefined, title: '', action: `${uid}/consent`, scopes: [{ name: 'read:books', description: 'read:books' }] } },
  logout: { template: 'logout', data: { ...base, title: new Phrase('pages.logout.title'), providerForm } },
  logoutNoApp: { template: 'logout', data: { ...base, appName: undefined, title: '', providerForm } },
  logoutAuto: { template: 'logout', data: { ...base, title: new Phrase('pages.logout.autoTitle'), providerForm, autoConfirm: true } },
  logoutAutoNoApp: { template: 'logout', data: { ...base, appName: undefined, title: '', providerForm, autoConfirm: true } },
  signedOut: { template: 'signed-out', data: { ...base, title: new Phrase('pages.signedOut.title') } },
  signedOutNoApp: { template: 'signed-out', data: { ...base, appName: undefined, title: '' } },
  expired: { template: 'error', data: { ...base, title: message('expired.title'), message: message('expired.message'), details: 'session_not_found', backUrl: '/' } },
  methodOff: { template: 'error', data: { ...base, title: message('methodOff.title'), message: message('methodOff.message'), details: 'method_disabled' } },
  errorDefault: { template: 'error', data: { ...base, title: '' } },
};

// Every OAuth error page and every error page of our own.
for (const code of ['invalid_client', 'invalid_redirect_uri', 'invalid_request', 'session_not_found', 'invalid_scope', 'unauthorized_client', 'invalid_target', 'server_error']) {
  PAGES[`oidc-${code}`] = { template: 'error', data: { ...base, ...describeOidcError(code, undefined), details: code } };
}
for (const name of ['notFound', 'csrf', 'tooManyRequests', 'server', 'unavailable']) {
  PAGES[`http-${name}`] = { template: 'error', data: { ...base, title: new Phrase(`errors.${name}.title`), message: new Phrase(`errors.${name}.message`) } };
}
PAGES.home = { template: 'error', data: { ...base, title: new Phrase('errors.home.title'), message: new Phrase('errors.home.message', { issuer: 'http://localhost:3001/oidc' }) } };

/**
 * Text that is the same in every language by nature: names, the address, error codes, the scope names
 * shown small under their translated description (technical identifiers), the SI symbol for seconds
 * after the countdown ("42 s" in German, French and Spanish as in English), and "10 minutes", which
 * French writes as English does.
 */
const ALLOWED = new Set([
  'Sesame', 'Bookstore', 'ada@example.com', 'session_not_found', 'method_disabled', 'read:books', 'OK', '42', '·', '…',
  'openid', 'email', 'profile', 'offline_access', 's', '10 minutes',
]);
const CODE_NAMES = /^(invalid_\w+|unauthorized_client|server_error)$/;

function decode(text: string): string {
  return text.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The words a person reads: text between tags and the title/aria-label/placeholder attributes, the switcher left out. */
function words(html: string): string[] {
  const body = html.replace(/<nav class="languages"[\s\S]*?<\/nav>/, '').replace(/<(script|style)\b[\s\S]*?<\/\1>/g, '');
  const attributes = [...body.matchAll(/\s(?:title|aria-label|placeholder|alt)="([^"]*)"/g)].map((match) => match[1]!);
  const texts = body.split(/<[^>]*>/);
  return [...attributes, ...texts]
    .map((text) => decode(text).replace(/\s+/g, ' ').trim())
    .filter((text) => text !== '' && !ALLOWED.has(text) && !CODE_NAMES.test(text) && !/^[\d\s.,:·]+$/.test(text));
}

function englishLeft(html: string, englishHtml: string): string[] {
  const english = new Set(words(englishHtml));
  // "Sesame · Bookstore"-like titles and "· Sesame" suffixes are names, not words.
  return words(html).filter((text) => english.has(text) && !/^[^a-z]*(Sesame|Bookstore)[^a-z]*$/i.test(text));
}

const rendered = (page: string, lang: Language) => views.render(PAGES[page]!.template, { ...PAGES[page]!.data, lang, here: `${uid}/code` } as never);

describe('every page in every language', () => {
  for (const page of Object.keys(PAGES)) {
    describe(page, () => {
      const english = rendered(page, 'en');
      for (const lang of LANGUAGES) {
        it(lang, () => {
          const html = rendered(page, lang);
          expect(html).toContain(`<html lang="${lang}" dir="${lang === 'ar' ? 'rtl' : 'ltr'}">`);
          // A missing key shows as its path, a missing value as its placeholder.
          expect(html).not.toMatch(/\b(?:pages|messages|errors|layout|mail|language)\.[a-zA-Z]+\.[\w.]+/);
          expect(html).not.toContain('{{');
          expect(html).not.toContain('[object Object]');
          if (lang !== 'en') expect(englishLeft(html, english)).toEqual([]);
          // The switcher: every language, the current one marked, each link back to this page.
          expect(html).toContain(`<span class="language language-current" lang="${lang}" aria-current="true">`);
          expect(html.match(/href="\/language\/[\w-]+\?return=\/interaction\/u1\/code"/g)).toHaveLength(LANGUAGES.length - 1);
        });
      }
    });
  }

  it('leaves no message of the catalogue untranslated', () => {
    const keys = keysOf('en').filter((key) => key.startsWith('messages.')).map((key) => key.slice('messages.'.length).replace(/_(one|other)$/, ''));
    for (const key of new Set(keys)) {
      const english = speech('en').t(`messages.${key}`, { count: 5, appName: 'Bookstore', email: 'ada@example.com', wait: 'x' });
      for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
        const text = speech(lang).t(`messages.${key}`, { count: 5, appName: 'Bookstore', email: 'ada@example.com', wait: 'x' });
        // French writes "minute(s)" as English does: the one word both languages share.
        if (lang === 'fr' && /^lockout\.minutes/.test(key)) continue;
        expect(text, `${lang} messages.${key}`).not.toBe(english);
        void message(key as MessageKey);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Email.

const noTemplates = (() => {
  const parsed = parseSmtpConnectorConfig({ host: 'smtp.example.com', port: 587, fromEmail: 'no-reply@example.com' });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.config;
})();

const mailData = (locale: Language, usageType: string) => ({
  code: '123456',
  application: { name: 'Bookstore' },
  user: { primaryEmail: 'ada@example.com' },
  expiresInMinutes: 10,
  locale,
  ...(usageType === 'Generic' ? {} : {}),
});

function mailLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== '--' && !ALLOWED.has(line) && !/^\d+$/.test(line));
}

describe('every email in every language', () => {
  for (const usageType of USAGE_TYPES) {
    describe(usageType, () => {
      for (const lang of LANGUAGES) {
        it(lang, async () => {
          const mail = await renderMail(noTemplates, usageType, mailData(lang, usageType), EMAIL_TEMPLATES);
          const english = await renderMail(noTemplates, usageType, mailData('en', usageType), EMAIL_TEMPLATES);
          expect(mail.html).toContain(`<html lang="${lang}" dir="${lang === 'ar' ? 'rtl' : 'ltr'}"`);
          expect(mail.text).toContain('123456');
          for (const part of [mail.subject, mail.text, mail.html!]) {
            expect(part).not.toMatch(/\bmail\.[A-Za-z]+/);
            expect(part).not.toContain('{{');
          }
          if (lang !== 'en') {
            expect(mail.subject).not.toBe(english.subject);
            const englishLines = new Set(mailLines(english.text));
            expect(mailLines(mail.text).filter((line) => englishLines.has(line))).toEqual([]);
            expect(englishLeft(mail.html!, english.html!)).toEqual([]);
          }
        });
      }
    });
  }

  it('counts the code’s minutes with the language’s plural rules', async () => {
    const minutes = async (lang: Language, expiresInMinutes: number) =>
      (await renderMail(noTemplates, 'SignIn', { ...mailData(lang, 'SignIn'), expiresInMinutes }, EMAIL_TEMPLATES)).text;
    expect(await minutes('en', 1)).toContain('This code expires in 1 minute and');
    expect(await minutes('en', 10)).toContain('This code expires in 10 minutes and');
    expect(await minutes('de', 10)).toContain('Dieser Code ist 10 Minuten gültig');
    expect(await minutes('ar', 2)).toContain('خلال دقيقتين');
    expect(await minutes('ar', 10)).toContain('خلال 10 دقائق');
    expect(await minutes('ja', 10)).toContain('有効期限は 10 分で');
  });

  it('speaks English to a language Sesame does not have', async () => {
    const mail = await renderMail(noTemplates, 'SignIn', { ...mailData('en', 'SignIn'), locale: 'pt-BR' }, EMAIL_TEMPLATES);
    expect(mail.subject).toBe('Your sign-in code for Bookstore');
    expect(mail.html).toContain('<html lang="en" dir="ltr"');
  });
});
