import { describe, expect, it } from 'vitest';
import {
  chooseLanguage,
  keysOf,
  LANGUAGES,
  matchLanguage,
  ownPhrase,
  parseAcceptLanguage,
  speech,
  type Language,
} from '../../src/i18n/index.ts';
import { safeReturn, returnPath } from '../../src/http/language.ts';

describe('choosing the language', () => {
  it('takes ui_locales in its order, skipping tags Sesame does not speak', () => {
    expect(chooseLanguage({ uiLocales: 'it ja de' })).toBe('ja');
    expect(chooseLanguage({ uiLocales: 'de ja' })).toBe('de');
    expect(chooseLanguage({ uiLocales: 'ar' })).toBe('ar');
  });

  it('puts ui_locales before Accept-Language, and Accept-Language before the fallback', () => {
    expect(chooseLanguage({ uiLocales: 'fr', acceptLanguage: 'de' })).toBe('fr');
    expect(chooseLanguage({ uiLocales: 'it', acceptLanguage: 'es-MX,es;q=0.9' })).toBe('es');
    expect(chooseLanguage({ acceptLanguage: 'it', info: { autoDetect: true, fallbackLanguage: 'de' } })).toBe('de');
  });

  it('lets the switcher cookie win over everything, and ignores a junk cookie', () => {
    expect(chooseLanguage({ cookie: 'ja', uiLocales: 'fr', acceptLanguage: 'de' })).toBe('ja');
    expect(chooseLanguage({ cookie: 'klingon', uiLocales: 'fr' })).toBe('fr');
    expect(chooseLanguage({ cookie: 'JA', acceptLanguage: 'de' })).toBe('de');
    expect(chooseLanguage({ cookie: '', acceptLanguage: 'de' })).toBe('de');
  });

  it('reads Accept-Language by q-value, keeping the header order for equal values', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de;q=0.9, ja')).toEqual(['ja', 'de', 'fr']);
    expect(parseAcceptLanguage('es, fr')).toEqual(['es', 'fr']);
    expect(chooseLanguage({ acceptLanguage: 'it;q=1, fr;q=0.4, de;q=0.8' })).toBe('de');
    // q=0 means "not this one".
    expect(chooseLanguage({ acceptLanguage: 'de;q=0, fr;q=0.1' })).toBe('fr');
  });

  it('skips malformed Accept-Language entries quietly', () => {
    expect(parseAcceptLanguage('de;q=abc, ;;, *, fr;q=2, ja;q=0.7')).toEqual(['ja']);
    expect(parseAcceptLanguage('<script>, es')).toEqual(['<script>', 'es']);
    expect(chooseLanguage({ acceptLanguage: '<script>, es' })).toBe('es');
    expect(chooseLanguage({ acceptLanguage: 'x'.repeat(100_000) })).toBe('en');
    expect(chooseLanguage({ acceptLanguage: ['de'] as unknown })).toBe('en');
    expect(chooseLanguage({ uiLocales: 42 })).toBe('en');
  });

  it('falls back from a region or script to the language, and every Chinese to zh-CN', () => {
    expect(matchLanguage('zh-CN')).toBe('zh-CN');
    expect(matchLanguage('zh-cn')).toBe('zh-CN');
    expect(matchLanguage('zh_CN')).toBe('zh-CN');
    expect(matchLanguage('zh-Hans')).toBe('zh-CN');
    expect(matchLanguage('zh-Hans-SG')).toBe('zh-CN');
    expect(matchLanguage('zh')).toBe('zh-CN');
    expect(matchLanguage('de-AT')).toBe('de');
    expect(matchLanguage('ar-EG')).toBe('ar');
    expect(matchLanguage('EN-gb')).toBe('en');
    expect(matchLanguage('pt-BR')).toBeUndefined();
    expect(matchLanguage('d e')).toBeUndefined();
    expect(matchLanguage('')).toBeUndefined();
  });

  it('uses the configured fallback for unknown languages, and ignores Accept-Language when detection is off', () => {
    const info = { autoDetect: false, fallbackLanguage: 'fr' } as const;
    expect(chooseLanguage({ acceptLanguage: 'de', info })).toBe('fr');
    expect(chooseLanguage({ uiLocales: 'ja', acceptLanguage: 'de', info })).toBe('ja');
    expect(chooseLanguage({})).toBe('en');
    expect(chooseLanguage({ uiLocales: 'tlh', acceptLanguage: 'tlh' })).toBe('en');
  });
});

describe('the switcher', () => {
  it('returns only to a path on this origin', () => {
    expect(safeReturn('/interaction/abc/code')).toBe('/interaction/abc/code');
    expect(safeReturn('/oidc/session/end?client_id=x')).toBe('/oidc/session/end?client_id=x');
    for (const foreign of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/a\nb', '', undefined, 42, `/${'a'.repeat(3000)}`]) {
      expect(safeReturn(foreign)).toBe('/');
    }
  });

  it('returns to the page a form lives on after that form was posted', () => {
    expect(returnPath({ method: 'GET', url: '/interaction/u1/code?sent=1' })).toBe('/interaction/u1/code?sent=1');
    expect(returnPath({ method: 'POST', url: '/interaction/u1/email' })).toBe('/interaction/u1');
    expect(returnPath({ method: 'POST', url: '/interaction/u1/code' })).toBe('/interaction/u1/code');
    expect(returnPath({ method: 'POST', url: '/interaction/u1/resend' })).toBe('/interaction/u1/code');
    expect(returnPath({ method: 'POST', url: '/interaction/u1/forgot/resend' })).toBe('/interaction/u1/forgot/code');
    expect(returnPath({ method: 'POST', url: '/interaction/u1/skip-password' })).toBe('/interaction/u1/create-password');
  });
});

// ---------------------------------------------------------------------------------------------
// The locale files themselves.

const PLURAL = /_(zero|one|two|few|many|other)$/;
const baseKey = (key: string) => key.replace(PLURAL, '');
const placeholders = (text: string) => [...text.matchAll(/\{\{\s*([\w.]+)/g)].map((match) => match[1]).sort();

describe('locale files', () => {
  const english = keysOf('en');
  const englishBases = [...new Set(english.map(baseKey))].sort();

  for (const language of LANGUAGES) {
    describe(language, () => {
      const keys = keysOf(language);
      const categories = new Intl.PluralRules(language).resolvedOptions().pluralCategories;

      it('has every key English has, and no other', () => {
        expect([...new Set(keys.map(baseKey))].sort()).toEqual(englishBases);
      });

      it('has exactly the plural forms its grammar needs', () => {
        const plural = englishBases.filter((base) => english.some((key) => key !== base && baseKey(key) === base));
        for (const base of plural) {
          const forms = keys.filter((key) => baseKey(key) === base && key !== base).map((key) => key.match(PLURAL)![1]).sort();
          expect(forms, base).toEqual([...categories].sort());
        }
      });

      it('keeps the placeholders of each English phrase', () => {
        for (const key of keys) {
          const englishKey = english.includes(key) ? key : english.find((candidate) => baseKey(candidate) === baseKey(key) && candidate.endsWith('_other'))!;
          const mine = new Set(placeholders(ownPhrase(language, key)!));
          const theirs = new Set(placeholders(ownPhrase('en', englishKey)!));
          // A plural form may spell the number out ("one try", "دقيقتين") instead of {{count}}.
          mine.delete('count');
          theirs.delete('count');
          expect([...mine].sort(), key).toEqual([...theirs].sort());
        }
      });

      it('has no empty phrase', () => {
        for (const key of keys) expect(ownPhrase(language, key)!.trim(), key).not.toBe('');
      });
    });
  }

  it('formats counts with each language’s plural rules and digits', () => {
    const tries = (language: Language, count: number) => speech(language).t('pages.code.triesLeft', { count });
    expect(tries('en', 1)).toBe('1 try left.');
    expect(tries('en', 4)).toBe('4 tries left.');
    expect(tries('de', 1)).toBe('Noch 1 Versuch.');
    expect(tries('ar', 1)).toBe('تبقّت محاولة واحدة.');
    expect(tries('ar', 2)).toBe('تبقّت محاولتان.');
    expect(tries('ar', 4)).toBe('تبقّت 4 محاولات.');
    expect(tries('ar', 11)).toBe('تبقّت 11 محاولة.');
    expect(tries('ja', 1)).toBe('残り 1 回です。');
    expect(speech('de').t('messages.password.tooShort', { count: 1200 })).toBe('Verwenden Sie mindestens 1.200 Zeichen.');
    expect(speech('en').t('mail.minutes', { count: 10 })).toBe('10 minutes');
    expect(speech('fr').t('messages.lockout.hours', { count: 2 })).toBe('2 heures');
  });

  it('answers a phrase with values by its values, however many it has seen', () => {
    const { t, th } = speech('en');
    // More distinct values than the translator keeps, then the first ones again: each answer is its own.
    for (let round = 0; round < 2; round += 1) {
      for (let count = 1; count <= 1200; count += 1) expect(t('messages.password.tooShort', { count })).toBe(`Use at least ${count.toLocaleString('en')} character${count === 1 ? '' : 's'}.`);
    }
    expect(th('pages.code.sent', { email: { tag: 'strong', text: 'a@b.c' } })).toBe('We sent a 6-digit code to <strong>a@b.c</strong>.');
    expect(th('pages.code.sent', { email: { tag: 'strong', text: 'x@y.z' } })).toBe('We sent a 6-digit code to <strong>x@y.z</strong>.');
    expect(t('pages.code.triesLeft', { count: 1 })).toBe('1 try left.');
    expect(t('pages.code.triesLeft', { count: 2 })).toBe('2 tries left.');
  });

  it('escapes values, and the sentence, in html()', () => {
    const { th } = speech('en');
    expect(th('pages.code.sent', { email: { tag: 'strong', className: 'email', text: '<b>"x"</b>@a.b' } })).toBe(
      'We sent a 6-digit code to <strong class="email">&lt;b&gt;&quot;x&quot;&lt;/b&gt;@a.b</strong>.',
    );
    expect(th('pages.consent.willAllow', { app: '<img src=x>' })).toBe('This will allow &lt;img src=x&gt; to:');
  });
});
