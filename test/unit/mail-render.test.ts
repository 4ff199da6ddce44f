import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectorConfigFromEnv, parseSmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import type { SmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import { fillPlaceholders, htmlToText, renderMail } from '../../src/mail/render.ts';
import type { MailData } from '../../src/mail/render.ts';

const templatesDir = fileURLToPath(new URL('../../templates/email', import.meta.url));

function connector(templates: unknown[]): SmtpConnectorConfig {
  const result = parseSmtpConnectorConfig({ host: 'smtp.example.com', port: 587, fromEmail: 'no-reply@example.com', templates });
  if (!result.ok) throw new Error(result.error);
  return result.config;
}

const envConfig = connectorConfigFromEnv({ host: 'smtp.example.com', port: 587, secure: false, from: 'no-reply@example.com' });

const data: MailData = {
  code: '482913',
  application: { name: 'Bookstore' },
  user: { primaryEmail: 'ann@example.com' },
  expiresInMinutes: 10,
};

describe('fillPlaceholders', () => {
  it('fills dotted paths and tolerates whitespace inside the braces', () => {
    expect(fillPlaceholders('{{code}} for {{ application.name }} to {{user.primaryEmail}}', data)).toBe('482913 for Bookstore to ann@example.com');
  });

  it('renders unknown paths and non-scalar values as empty strings', () => {
    expect(fillPlaceholders('[{{nope}}][{{application.nope.deeper}}][{{application}}]', data)).toBe('[][][]');
  });

  it('does not reach the prototype chain', () => {
    expect(fillPlaceholders('[{{constructor}}][{{code.length}}][{{__proto__.toString}}]', data)).toBe('[][][]');
  });

  it('reaches any dotted path into the data, numbers included', () => {
    expect(fillPlaceholders('{{org.name}} has {{org.seats}} seats', { org: { name: 'Acme', seats: 3 } })).toBe('Acme has 3 seats');
  });

  it('escapes values when asked to', () => {
    const escape = (v: string) => v.replaceAll('<', '&lt;');
    expect(fillPlaceholders('<b>{{application.name}}</b>', { application: { name: '<script>' } }, escape)).toBe('<b>&lt;script></b>');
  });
});

describe('renderMail with connector templates', () => {
  const config = connector([
    { usageType: 'SignIn', contentType: 'text/plain', subject: 'Sign in to {{application.name}}', content: 'Code: {{ code }}' },
    { usageType: 'Register', contentType: 'text/html', subject: 'Welcome to {{application.name}}', content: '<p>Hello {{user.primaryEmail}},</p><p>your code is <b>{{code}}</b>.</p><p><a href="https://example.com/help">Help</a></p>' },
    { usageType: 'Generic', contentType: 'text/plain', subject: 'Your {{application.name}} code', content: 'Generic {{code}}' },
  ]);

  it('sends text only for a text/plain template', async () => {
    const mail = await renderMail(config, 'SignIn', data, templatesDir);
    expect(mail).toEqual({ subject: 'Sign in to Bookstore', text: 'Code: 482913' });
  });

  it('sends html plus a derived text part for a text/html template', async () => {
    const mail = await renderMail(config, 'Register', data, templatesDir);
    expect(mail.subject).toBe('Welcome to Bookstore');
    expect(mail.html).toContain('<b>482913</b>');
    expect(mail.text).toBe('Hello ann@example.com,\n\nyour code is 482913.\n\nHelp (https://example.com/help)');
  });

  it('HTML-escapes values in html but not in the subject', async () => {
    const mail = await renderMail(config, 'Register', { ...data, application: { name: 'Tom & <Jerry>' }, user: { primaryEmail: '"><img src=x>@example.com' } }, templatesDir);
    expect(mail.subject).toBe('Welcome to Tom & <Jerry>');
    expect(mail.html).toContain('Hello &quot;&gt;&lt;img src=x&gt;@example.com,');
    expect(mail.html).not.toContain('<img');
    expect(mail.text).toContain('Hello "><img src=x>@example.com,');
  });

  it('falls back to the Generic template for a missing usage type', async () => {
    const mail = await renderMail(config, 'ForgotPassword', data, templatesDir);
    expect(mail).toEqual({ subject: 'Your Bookstore code', text: 'Generic 482913' });
  });

  it('uses the built-in template when neither the usage type nor Generic is configured', async () => {
    const onlySignIn = connector([{ usageType: 'SignIn', contentType: 'text/plain', subject: 'x', content: 'y {{code}}' }]);
    const mail = await renderMail(onlySignIn, 'Register', data, templatesDir);
    expect(mail.subject).toBe('Confirm your email for Bookstore');
    expect(mail.html).toContain('482913');
  });
});

describe('renderMail with the default templates', () => {
  it.each(['Register', 'SignIn', 'ForgotPassword', 'Generic'] as const)('renders %s with code, app name, expiry and an ignore line', async (usageType) => {
    const mail = await renderMail(envConfig, usageType, data, templatesDir);
    expect(mail.subject).toContain('Bookstore');
    expect(mail.subject).not.toMatch(/[\r\n]/);
    for (const part of [mail.text, mail.html ?? '']) {
      expect(part).toContain('482913');
      expect(part).toContain('Bookstore');
      expect(part).toContain('This code expires in');
      expect(part).toContain('10 minutes');
      expect(part).toMatch(/ignore this email/);
    }
    expect(mail.html).toMatch(/^<!DOCTYPE html>/);
    expect(mail.html).toContain('role="presentation"');
    expect(mail.html).toMatch(/font-family:[^"]*monospace[^"]*letter-spacing/);
    expect(mail.text).not.toContain('<');
  });

  it('escapes data in the html part and leaves the text part readable', async () => {
    const mail = await renderMail(envConfig, 'SignIn', { ...data, application: { name: 'Tom & <Jerry>' } }, templatesDir);
    expect(mail.html).toContain('Tom &amp; &lt;Jerry&gt;');
    expect(mail.html).not.toContain('<Jerry>');
    expect(mail.text).toContain('Tom & <Jerry>');
    expect(mail.subject).toBe('Your sign-in code for Tom & <Jerry>');
  });

  it('renders a Generic notice without a code', async () => {
    const mail = await renderMail(
      envConfig,
      'Generic',
      { application: { name: 'Bookstore' }, subject: 'Your password was changed', message: 'Your password was changed just now.\n\nIf this was not you, contact support.' },
      templatesDir,
    );
    expect(mail.subject).toBe('Your password was changed');
    expect(mail.text).toContain('Your password was changed just now.\n\nIf this was not you, contact support.');
    expect(mail.text).not.toMatch(/code|undefined/i);
    expect(mail.html).toContain('<p style="margin:0;">Your password was changed just now.</p>');
    expect(mail.html).not.toMatch(/code|undefined/i);
  });

  it('falls back to a sensible subject and name without data', async () => {
    const mail = await renderMail(envConfig, 'Generic', {}, templatesDir);
    expect(mail.subject).toBe('A message from Sesame');
    expect(mail.text).not.toContain('undefined');
    const withoutExpiry = await renderMail(envConfig, 'SignIn', { code: '111222' }, templatesDir);
    expect(withoutExpiry.text).toContain('This code can be used only once.');
    expect(withoutExpiry.text).not.toContain('expires');
  });
});

describe('htmlToText', () => {
  it('drops head, styles, comments and hidden preheaders and decodes entities', () => {
    const html = '<html><head><title>T</title><style>p{color:red}</style></head><body><!-- x --><div style="display:none">pre</div><h1>Hi&nbsp;there</h1><p>A &amp; B &#8212; C<br>D</p></body></html>';
    // html-to-text keeps a non-breaking space as one (U+00A0), as the author wrote it.
    expect(htmlToText(html)).toBe('Hi\u00a0there\n\nA & B \u2014 C\nD');
  });

  it('keeps link targets once, drops mailto:, images and spacer paragraphs', () => {
    const html =
      '<div style="DISPLAY: none">pre&#8199;&#847;&#8199;&#847;</div><p>Write to <a href="mailto:help@example.com">help@example.com</a>, ' +
      'see <a href="https://example.com/">https://example.com/</a> or the <a href="https://example.com/a?b=1&amp;c=2">docs</a>.</p>' +
      '<p>&nbsp;</p><img src="https://example.com/logo.png" alt="Logo"><ul><li>one</li><li>two</li></ul>';
    expect(htmlToText(html)).toBe(
      'Write to help@example.com, see https://example.com/ or the docs (https://example.com/a?b=1&c=2).\n\n- one\n- two',
    );
  });
});

describe('the sign-in link in code mails', () => {
  const link = 'https://id.example.com/interaction/abc/link?t=' + 'x'.repeat(43);

  it('puts a button and the URL in the default HTML, the URL in the text, for every usage type with a code', async () => {
    for (const [usageType, label] of [['SignIn', 'Sign in'], ['Register', 'Confirm my email'], ['ForgotPassword', 'Reset my password'], ['Generic', 'Continue']] as const) {
      const mail = await renderMail(envConfig, usageType, { ...data, link }, templatesDir);
      expect(mail.text, usageType).toContain(`\n    ${link}\n`);
      expect(mail.text, usageType).toContain('This code and link expire in 10 minutes and can be used only once: using either one uses both.');
      expect(mail.html, usageType).toContain(`<a href="${link}"`);
      expect(mail.html, usageType).toContain(`>${label}</a>`);
      expect(mail.html, usageType).toContain(`>${link}</a>`);
    }
  });

  it('leaves the link out when there is none, or when it is not an absolute http(s) URL', async () => {
    for (const bad of [undefined, '', 'javascript:alert(1)', '/interaction/abc/link?t=x', 'https://a b']) {
      const mail = await renderMail(envConfig, 'SignIn', { ...data, link: bad }, templatesDir);
      expect(mail.text).not.toContain('Or open this link');
      expect(mail.html).not.toContain('javascript:');
      expect(mail.text).toContain('This code expires in 10 minutes and can be used only once.');
    }
  });

  it('fills {{link}} in connector templates, escaped in HTML', async () => {
    const config = connector([
      { usageType: 'SignIn', contentType: 'text/html', subject: 'Code', content: '<p>{{code}}</p><a href="{{link}}">Sign in</a>' },
      { usageType: 'Register', contentType: 'text/plain', subject: 'Code', content: 'Code {{code}}, link {{link}}' },
    ]);
    const html = await renderMail(config, 'SignIn', { ...data, link: `${link}&x="y"` }, templatesDir);
    expect(html.html).toContain(`<a href="${link}&amp;x=&quot;y&quot;">`);
    const text = await renderMail(config, 'Register', { ...data, link }, templatesDir);
    expect(text.text).toBe(`Code 482913, link ${link}`);
  });
});
