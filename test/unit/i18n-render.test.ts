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

  // Passkeys on the email page (the button, shown by the script) and their refusals.
  emailPasskey: { template: 'email', data: { ...base, title: message('title.signIn'), action: `${uid}/email`, passkey: { action: `${uid}/passkey`, optionsUrl: `${uid}/passkey/options` }, error: message('passkey.counter') } },

  // The sign-in link opened in another browser, and every refusal of a link.
  link: { template: 'link', data: { ...base, title: message('link.elsewhere.title'), email: 'ada@example.com', code: '482913', minutesLeft: 7 } },
  linkOneMinute: { template: 'link', data: { ...base, appName: undefined, title: message('link.elsewhere.title'), email: 'ada@example.com', code: '482913', minutesLeft: 1 } },
  linkNoMinutes: { template: 'link', data: { ...base, appName: undefined, title: message('link.elsewhere.title'), email: 'ada@example.com', code: '482913' } },
  codeLinkWrong: { template: 'code', data: { ...base, title: message('title.checkEmail'), email: 'ada@example.com', action: `${uid}/code`, error: message('link.wrong'), attemptsLeft: 2 } },

  // The second factor at sign-in: the code, a backup code, setting it up, the backup codes once.
  mfa: {
    template: 'mfa',
    data: { ...base, title: message('title.mfa'), email: 'ada@example.com', method: 'totp', action: `${uid}/mfa`, switchUrl: `${uid}/mfa?method=backup`, backupCodesLeft: 10, cancelAction: `${uid}/cancel`, error: message('mfa.totpWrong') },
  },
  mfaNoApp: { template: 'mfa', data: { ...base, appName: undefined, title: message('title.mfa'), email: 'ada@example.com', method: 'totp', action: `${uid}/mfa`, switchUrl: `${uid}/mfa?method=backup`, cancelAction: `${uid}/cancel`, error: message('mfa.totpReused') } },
  mfaBackup: {
    template: 'mfa',
    data: { ...base, title: message('title.mfa'), email: 'ada@example.com', method: 'backup', action: `${uid}/mfa`, switchUrl: `${uid}/mfa`, backupCodesLeft: 1, cancelAction: `${uid}/cancel`, error: message('mfa.backupWrong') },
  },
  mfaBackupNoCount: { template: 'mfa', data: { ...base, title: message('title.mfa'), email: 'ada@example.com', method: 'backup', action: `${uid}/mfa`, switchUrl: `${uid}/mfa`, cancelAction: `${uid}/cancel`, error: message('mfa.backupMalformed') } },
  mfaSetup: {
    template: 'mfa-setup',
    data: { ...base, title: message('title.mfaSetup'), email: 'ada@example.com', qrSvg: '<svg viewBox="0 0 1 1"></svg>', secretText: 'JBSW Y3DP EHPK 3PXP', otpauthUri: 'otpauth://totp/x', action: `${uid}/mfa/setup`, cancelAction: `${uid}/cancel`, error: message('mfa.setupWrong') },
  },
  mfaSetupNoApp: {
    template: 'mfa-setup',
    data: { ...base, appName: undefined, title: message('title.mfaSetup'), email: 'ada@example.com', qrSvg: '<svg></svg>', secretText: 'JBSW Y3DP EHPK 3PXP', otpauthUri: 'otpauth://totp/x', action: `${uid}/mfa/setup`, cancelAction: `${uid}/cancel`, error: message('mfa.setupGone') },
  },
  mfaBackupCodes: { template: 'mfa-backup-codes', data: { ...base, title: message('title.backupCodes'), email: 'ada@example.com', codes: ['abcde-23456', 'fghij-78923'], action: `${uid}/mfa/setup/done` } },
  mfaBackupCodesNoApp: { template: 'mfa-backup-codes', data: { ...base, appName: undefined, title: message('title.backupCodes'), email: 'ada@example.com', codes: ['abcde-23456'], action: `${uid}/mfa/setup/done` } },
};

// Every refusal of a sign-in link (an error page each) and every refusal of a passkey (on the email page).
for (const which of ['expired', 'dead', 'used', 'invalid', 'off'] as const) {
  PAGES[`link-${which}`] = { template: 'error', data: { ...base, title: message(`link.${which}.title`), message: message(`link.${which}.message`), details: `link_${which}`, backUrl: uid } };
}
for (const key of ['expired', 'malformed', 'unknown', 'userHandle', 'invalid', 'counter', 'flags'] as const) {
  PAGES[`passkey-${key}`] = { template: 'email', data: { ...base, title: message('title.signIn'), action: `${uid}/email`, passkey: { action: `${uid}/passkey`, optionsUrl: `${uid}/passkey/options` }, error: message(`passkey.${key}`) } };
}

// The account page (/account): what the signed-in layout gets from AccountContext.render, each page in each state.
const nav = [
  { id: 'overview', href: '/account', label: message('account.nav.overview') },
  { id: 'mfa', href: '/account/mfa', label: message('title.mfa') },
];
const account = { productName: 'Sesame', csrfToken: 'csrf-token', email: 'ada@example.com', nav };
const passkeyView = { id: 'pk1', name: 'Pixel', created: '3 Mar 2026', lastUsed: '5 Mar 2026', synced: true };
const overview = { ...account, section: 'overview', title: message('account.nav.overview'), maxPasskeys: 20, maxName: 60, suggestedName: 'Pixel' };
Object.assign(PAGES, {
  accountOverview: {
    template: 'account/overview',
    data: {
      ...overview,
      passkeys: [passkeyView, { ...passkeyView, id: 'pk2', lastUsed: undefined, synced: false }],
      security: [{ label: message('title.mfa'), href: '/account/mfa', summary: message('account.mfa.summaryOn', { count: 1 }) }],
      notice: message('account.passkey.added', { name: 'Pixel' }),
      error: message('account.passkey.tooMany', { count: 20 }),
    },
  },
  accountOverviewEmpty: { template: 'account/overview', data: { ...overview, passkeys: [], security: [], error: message('account.passkey.nameMissing'), notice: message('account.passkey.removed', { name: 'Pixel' }) } },
  accountOverviewFull: {
    template: 'account/overview',
    data: { ...overview, maxPasskeys: 1, passkeys: [passkeyView], security: [{ label: message('title.mfa'), href: '/account/mfa', summary: message('account.mfa.summaryOff') }], error: message('account.passkey.nameTooLong', { count: 60 }) },
  },
  accountMfaOn: {
    template: 'account/mfa',
    data: { ...account, section: 'mfa', title: message('title.mfa'), policy: 'optional', enrolled: true, backupCodesLeft: 2, backupCodesTotal: 10, canTurnOff: true, error: message('mfa.totpWrong'), notice: message('account.mfa.turnedOff') },
  },
  accountMfaRequired: {
    template: 'account/mfa',
    data: { ...account, section: 'mfa', title: message('title.mfa'), policy: 'required', enrolled: true, backupCodesLeft: 9, backupCodesTotal: 10, canTurnOff: false, error: message('account.mfa.required') },
  },
  accountMfaOffered: { template: 'account/mfa', data: { ...account, section: 'mfa', title: message('title.mfa'), policy: 'required', enrolled: false, backupCodesLeft: 0, backupCodesTotal: 10, canTurnOff: false } },
  accountMfaNotOffered: { template: 'account/mfa', data: { ...account, section: 'mfa', title: message('title.mfa'), policy: 'off', enrolled: false, backupCodesLeft: 0, backupCodesTotal: 10, canTurnOff: false } },
  accountMfaSetup: {
    template: 'account/mfa-setup',
    data: { ...account, section: 'mfa', title: message('title.mfaSetup'), qrSvg: '<svg></svg>', secretText: 'JBSW Y3DP EHPK 3PXP', otpauthUri: 'otpauth://totp/x', action: '/account/mfa/setup', error: message('mfa.totpMalformed') },
  },
  accountMfaCodes: { template: 'account/mfa-codes', data: { ...account, section: 'mfa', title: message('title.backupCodes'), heading: message('account.mfa.turnedOn'), codes: ['abcde-23456'] } },
  accountMfaNewCodes: { template: 'account/mfa-codes', data: { ...account, section: 'mfa', title: message('title.backupCodes'), heading: message('account.mfa.newCodes'), codes: ['abcde-23456'] } },
  accountRename: { template: 'account/passkey-rename', data: { ...account, section: 'overview', title: message('account.passkey.renameTitle'), passkey: passkeyView, name: 'Pixel', maxName: 60, error: message('account.passkey.nameMissing') } },
  accountRemove: { template: 'account/passkey-remove', data: { ...account, section: 'overview', title: message('account.passkey.removeTitle'), passkey: passkeyView, others: 2 } },
  accountRemoveOne: { template: 'account/passkey-remove', data: { ...account, section: 'overview', title: message('account.passkey.removeTitle'), passkey: { ...passkeyView, lastUsed: undefined }, others: 1 } },
  accountRemoveLast: { template: 'account/passkey-remove', data: { ...account, section: 'overview', title: message('account.passkey.removeTitle'), passkey: passkeyView, others: 0 } },
  accountNotFound: { template: 'account/problem-in', data: { ...account, title: message('account.passkey.notFound.title'), message: message('account.passkey.notFound.message') } },
});
for (const [name, title, text] of [
  ['suspended', 'account.suspended.title', 'account.suspended.message'],
  ['csrf', 'account.csrf.title', 'account.csrf.message'],
  ['unavailable', 'account.unavailable.title', 'account.unavailable.message'],
  ['badRequest', 'account.badRequest.title', 'account.badRequest.message'],
  ['server', 'account.server.title', 'account.server.message'],
  ['incompleteState', 'account.incomplete.title', 'account.incomplete.state'],
  ['incompleteNoCode', 'account.incomplete.title', 'account.incomplete.noCode'],
  ['signedOut', 'account.signedOut.title', 'account.signedOut.message'],
] as const) {
  PAGES[`account-${name}`] = { template: 'account/problem', data: { productName: 'Sesame', title: message(title), message: message(text), backUrl: '/account/sign-in', ...(name === 'signedOut' || name.startsWith('incomplete') ? { backLabel: message('account.signInAgain') } : {}) } };
}

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
  // A backup code's shape (the placeholder), a passkey's name, an authenticator key.
  'abcde-23456', 'fghij-78923', 'Pixel', 'JBSW Y3DP EHPK 3PXP',
  // The sign-in link, shown as text under its button.
  'http://localhost:3001/interaction/u1/link?t=abcdefghijklmnopqrstuvwxyz012345',
]);
/**
 * Words a language shares with English on purpose: German says "Passkeys" (the platforms' own word)
 * and "Name".
 */
const SAME_AS_ENGLISH: Partial<Record<Language, Set<string>>> = { de: new Set(['Passkeys', 'Name']) };
const CODE_NAMES = /^(invalid_\w+|unauthorized_client|server_error|link_\w+)$/;

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

function englishLeft(html: string, englishHtml: string, lang?: Language): string[] {
  const english = new Set(words(englishHtml));
  for (const word of (lang && SAME_AS_ENGLISH[lang]) ?? []) english.delete(word);
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
          if (lang !== 'en') expect(englishLeft(html, english, lang)).toEqual([]);
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

const LINK = 'http://localhost:3001/interaction/u1/link?t=abcdefghijklmnopqrstuvwxyz012345';

describe('every email in every language', () => {
  // Each usage type without a sign-in link and with one (its button, the copy line and the expiry of both).
  for (const [usageType, link] of USAGE_TYPES.flatMap((type) => [[type, undefined], [type, LINK]] as const)) {
    describe(`${usageType}${link ? ' with a link' : ''}`, () => {
      for (const lang of LANGUAGES) {
        it(lang, async () => {
          const withLink = (data: ReturnType<typeof mailData>) => (link ? { ...data, link } : data);
          const mail = await renderMail(noTemplates, usageType, withLink(mailData(lang, usageType)), EMAIL_TEMPLATES);
          const english = await renderMail(noTemplates, usageType, withLink(mailData('en', usageType)), EMAIL_TEMPLATES);
          if (link) {
            expect(mail.html).toContain(`href="${LINK}"`);
            expect(mail.text).toContain(LINK);
          }
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
