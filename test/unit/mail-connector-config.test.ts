import { describe, expect, it } from 'vitest';
import { connectorConfigFromEnv, parseSmtpConnectorConfig, USAGE_TYPES } from '../../src/mail/connector-config.ts';

// The example config from Logto's SMTP connector documentation.
const logtoExample = {
  host: 'smtp-relay.sendinblue.com',
  port: 587,
  auth: { user: 'sender@example.com', pass: 'secret' },
  fromEmail: 'Bookstore <no-reply@example.com>',
  templates: [
    { usageType: 'SignIn', contentType: 'text/plain', subject: 'Sign-in code', content: 'Your code is {{code}}.' },
    { usageType: 'Register', contentType: 'text/plain', subject: 'Welcome', content: 'Your code is {{code}}.' },
    { usageType: 'ForgotPassword', contentType: 'text/html', subject: 'Reset', content: '<p>Your code is {{code}}.</p>' },
    { usageType: 'Generic', contentType: 'text/plain', subject: 'Code', content: 'Your code is {{code}}.' },
  ],
};

function errorFor(overrides: Record<string, unknown>): string {
  const result = parseSmtpConnectorConfig({ ...logtoExample, ...overrides });
  if (result.ok) throw new Error('expected the config to be refused');
  return result.error;
}

describe('parseSmtpConnectorConfig', () => {
  it('accepts the Logto example and fills in short timeouts', () => {
    const result = parseSmtpConnectorConfig(logtoExample);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.port).toBe(587);
    expect(result.config.secure).toBe(false);
    expect(result.config.templates).toHaveLength(4);
    expect(result.config.connectionTimeout).toBeLessThanOrEqual(10_000);
    expect(result.config.greetingTimeout).toBeLessThanOrEqual(10_000);
    expect(result.config.socketTimeout).toBeLessThanOrEqual(30_000);
  });

  it('accepts the port as a numeric string', () => {
    const result = parseSmtpConnectorConfig({ ...logtoExample, port: '2525' });
    expect(result.ok && result.config.port).toBe(2525);
  });

  it('accepts a relay without auth and with the optional fields', () => {
    const result = parseSmtpConnectorConfig({
      host: 'relay.internal',
      port: 25,
      fromEmail: 'no-reply@example.com',
      replyTo: 'support@example.com',
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      customHeaders: { 'X-Entity-Ref-ID': 'sesame' },
      connectionTimeout: '3000',
      auth: { type: 'login', user: 'u', pass: 'p' },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.templates).toEqual([]);
    expect(result.config.connectionTimeout).toBe(3000);
    expect(result.config.tls).toEqual({ rejectUnauthorized: false });
  });

  it.each([
    [{ port: 0 }, 'port must be an integer between 1 and 65535'],
    [{ port: 65536 }, 'port must be an integer between 1 and 65535'],
    [{ port: '25x' }, 'port must be an integer between 1 and 65535'],
    [{ port: 2.5 }, 'port must be an integer between 1 and 65535'],
    [{ port: undefined }, 'port is required'],
    [{ host: '' }, 'host must not be empty'],
    [{ host: undefined }, 'host is required'],
    [{ fromEmail: 'not an address' }, 'fromEmail must be one email address'],
    [{ fromEmail: 'a@example.com, b@example.com' }, 'fromEmail must be one email address'],
    [{ fromEmail: 'a@example.com\r\nBcc: x@example.com' }, 'fromEmail must be one email address'],
    [{ replyTo: 'nope' }, 'replyTo must be one email address'],
    [{ secure: 'yes' }, 'secure must be true or false'],
    [{ requireTLS: 1 }, 'requireTLS must be true or false'],
    [{ requireTLS: true, ignoreTLS: true }, 'ignoreTLS cannot be true together with requireTLS'],
    [{ tls: 'strict' }, 'tls must be an object'],
    [{ auth: { user: 'u' } }, 'auth.pass is required'],
    [{ auth: { type: 'oauth2', user: 'u', pass: 'p' } }, 'auth.type must be "login"'],
    [{ customHeaders: { 'X-Tag': 'a\r\nBcc: evil@example.com' } }, 'customHeaders["X-Tag"] must not contain line breaks'],
    [{ customHeaders: { 'X-Tag\nBcc': 'a' } }, 'is not a valid header name'],
    [{ customHeaders: { Bcc: 'evil@example.com' } }, 'customHeaders.Bcc cannot be set as a custom header'],
    [{ customHeaders: { 'X-Count': 3 } }, 'customHeaders["X-Count"] must be a string'],
    [{ connectionTimeout: -5 }, 'connectionTimeout must be a whole number of milliseconds'],
    [{ socketTimeout: 'soon' }, 'socketTimeout must be a whole number of milliseconds'],
    [{ templates: 'none' }, 'templates must be an array'],
  ])('refuses %j naming the field', (overrides, message) => {
    expect(errorFor(overrides)).toContain(message);
  });

  it('names the template index and field', () => {
    const templates = [...logtoExample.templates];
    templates[1] = { ...logtoExample.templates[1]!, usageType: 'Welcome' };
    expect(errorFor({ templates })).toBe('templates[1].usageType must be one of Register, SignIn, ForgotPassword, Generic');

    templates[1] = { ...logtoExample.templates[1]!, contentType: 'text/markdown' };
    expect(errorFor({ templates })).toBe('templates[1].contentType must be one of text/plain, text/html');

    templates[1] = { ...logtoExample.templates[1]!, subject: 'Hi\r\nBcc: evil@example.com' };
    expect(errorFor({ templates })).toBe('templates[1].subject must not contain line breaks');

    templates[1] = { ...logtoExample.templates[1]!, content: '' };
    expect(errorFor({ templates })).toBe('templates[1].content must not be empty');
  });

  it('refuses two templates for one usage type', () => {
    const templates = [...logtoExample.templates, logtoExample.templates[0]!];
    expect(errorFor({ templates })).toBe('templates[4].usageType SignIn is already defined by templates[0]');
  });

  it('refuses something that is not an object', () => {
    expect(parseSmtpConnectorConfig('smtp://x')).toEqual({ ok: false, error: 'config must be an object' });
    expect(parseSmtpConnectorConfig(null)).toEqual({ ok: false, error: 'config must be an object' });
  });

  it('lists the four usage types', () => {
    expect(USAGE_TYPES).toEqual(['Register', 'SignIn', 'ForgotPassword', 'Generic']);
  });
});

describe('connectorConfigFromEnv', () => {
  it('builds a config without templates so the defaults apply', () => {
    const config = connectorConfigFromEnv({ host: 'smtp.example.com', port: 465, user: 'u', pass: 'p', secure: true, from: 'Sesame <no-reply@example.com>' });
    expect(config).toMatchObject({ host: 'smtp.example.com', port: 465, secure: true, auth: { user: 'u', pass: 'p' }, fromEmail: 'Sesame <no-reply@example.com>', templates: [] });
  });

  it('leaves auth out for a relay', () => {
    const config = connectorConfigFromEnv({ host: 'relay', port: 25, secure: false, from: 'no-reply@example.com' });
    expect(config.auth).toBeUndefined();
  });

  it('names the environment variable when a value is wrong', () => {
    expect(() => connectorConfigFromEnv({ host: 'relay', port: 25, secure: false, from: 'nobody' })).toThrow(/^SMTP_FROM must be one email address/);
    expect(() => connectorConfigFromEnv({ host: 'relay', port: 0, secure: false, from: 'a@example.com' })).toThrow('SMTP_PORT must be an integer between 1 and 65535');
  });
});
