import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSmtpConnectorConfig, type SmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import { findConnectorTemplate, renderMail } from '../../src/mail/render.ts';

const EMAIL_TEMPLATES = fileURLToPath(new URL('../../templates/email', import.meta.url));

function config(templates: unknown[]): SmtpConnectorConfig {
  const parsed = parseSmtpConnectorConfig({ host: 'smtp.example.com', port: 587, fromEmail: 'no-reply@example.com', templates });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.config;
}

const template = (usageType: string, subject: string, languageTag?: string) => ({
  usageType,
  contentType: 'text/plain',
  subject,
  content: `${subject}: {{code}}`,
  ...(languageTag === undefined ? {} : { languageTag }),
});

const data = (locale?: string) => ({ code: '123456', application: { name: 'Bookstore' }, user: { primaryEmail: 'ada@example.com' }, expiresInMinutes: 10, ...(locale ? { locale } : {}) });

describe('which template a mail uses', () => {
  const full = config([
    template('SignIn', 'sign-in default'),
    template('SignIn', 'sign-in de', 'de'),
    template('SignIn', 'sign-in de-AT', 'de-AT'),
    template('SignIn', 'sign-in zh-CN', 'zh-CN'),
    template('Generic', 'generic fr', 'fr'),
    template('Generic', 'generic default'),
  ]);
  const subject = async (cfg: SmtpConnectorConfig, usageType: 'SignIn' | 'Register' | 'ForgotPassword' | 'Generic', locale?: string) =>
    (await renderMail(cfg, usageType, data(locale), EMAIL_TEMPLATES)).subject;

  it('1. takes the operator template for the usage type in exactly the person’s language', async () => {
    expect(await subject(full, 'SignIn', 'de-AT')).toBe('sign-in de-AT');
    expect(await subject(full, 'SignIn', 'de')).toBe('sign-in de');
    expect(await subject(full, 'SignIn', 'zh-cn')).toBe('sign-in zh-CN');
  });

  it('2. then one for the base language (de for de-CH)', async () => {
    expect(await subject(full, 'SignIn', 'de-CH')).toBe('sign-in de');
  });

  it('3. then the operator template for the usage type without a language', async () => {
    expect(await subject(full, 'SignIn', 'ja')).toBe('sign-in default');
    expect(await subject(full, 'SignIn')).toBe('sign-in default');
  });

  it('then the operator’s Generic template the same way', async () => {
    expect(await subject(full, 'Register', 'fr')).toBe('generic fr');
    expect(await subject(full, 'Register', 'ja')).toBe('generic default');
  });

  it('4. without an operator template, Sesame’s own in the person’s language; 5. English for a language it lacks', async () => {
    const onlyGerman = config([template('SignIn', 'sign-in de', 'de')]);
    expect(await subject(onlyGerman, 'SignIn', 'de')).toBe('sign-in de');
    expect(await subject(onlyGerman, 'SignIn', 'fr')).toBe('Votre code de connexion pour Bookstore');
    expect(await subject(onlyGerman, 'Register', 'ja')).toBe('Bookstore のメールアドレスの確認');
    expect(await subject(onlyGerman, 'SignIn', 'pt-BR')).toBe('Your sign-in code for Bookstore');
    expect(await subject(config([]), 'ForgotPassword')).toBe('Reset your Bookstore password');
  });

  it('never uses a template written for another language', () => {
    const german = config([template('SignIn', 'sign-in de', 'de')]);
    expect(findConnectorTemplate(german.templates, 'SignIn', 'fr')).toBeUndefined();
    expect(findConnectorTemplate(german.templates, 'SignIn', undefined)).toBeUndefined();
  });
});

describe('languageTag in the connector config', () => {
  it('accepts Logto’s tags and one template per usage type and language', () => {
    const parsed = parseSmtpConnectorConfig({
      host: 'h',
      port: 25,
      fromEmail: 'a@b.co',
      templates: [template('SignIn', 'a'), template('SignIn', 'b', 'de'), template('SignIn', 'c', 'zh-CN'), template('Register', 'd', 'de')],
    });
    expect(parsed.ok).toBe(true);
  });

  it('refuses a second template for the same usage type and language, and a malformed tag', () => {
    const duplicate = parseSmtpConnectorConfig({ host: 'h', port: 25, fromEmail: 'a@b.co', templates: [template('SignIn', 'a', 'de'), template('SignIn', 'b', 'DE')] });
    expect(duplicate).toEqual({ ok: false, error: 'templates[1].usageType SignIn in DE is already defined by templates[0]' });
    const bad = parseSmtpConnectorConfig({ host: 'h', port: 25, fromEmail: 'a@b.co', templates: [template('SignIn', 'a', 'de\r\nBcc: x')] });
    expect(bad).toEqual({ ok: false, error: 'templates[0].languageTag must be a language tag such as "de" or "zh-CN"' });
  });
});
