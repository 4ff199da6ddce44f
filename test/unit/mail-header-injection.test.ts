import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectorConfigFromEnv, parseSmtpConnectorConfig } from '../../src/mail/connector-config.ts';
import { createSmtpMailer, InvalidMailError } from '../../src/mail/mailer.ts';
import { renderMail } from '../../src/mail/render.ts';

const templatesDir = fileURLToPath(new URL('../../templates/email', import.meta.url));
// Nothing listens on port 9 (discard) on loopback here; the send must fail before connecting anyway.
const config = connectorConfigFromEnv({ host: '127.0.0.1', port: 9, secure: false, from: 'no-reply@example.com' });
const mailer = createSmtpMailer(config, { templatesDir, pool: false });
afterAll(() => mailer.close());

describe('header injection', () => {
  it.each([
    'victim@example.com\r\nBcc: attacker@example.com',
    'victim@example.com\nBcc: attacker@example.com',
    'victim@example.com\r',
    'victim@example.com, attacker@example.com',
    'victim@example.com; attacker@example.com',
    'not-an-address',
    '',
  ])('refuses the recipient %j before sending', async (to) => {
    await expect(mailer.send({ to, usageType: 'SignIn', data: { code: '123456' } })).rejects.toBeInstanceOf(InvalidMailError);
  });

  it('refuses a subject that picks up a line break from the data', async () => {
    const withTemplate = parseSmtpConnectorConfig({
      host: '127.0.0.1',
      port: 9,
      fromEmail: 'no-reply@example.com',
      templates: [{ usageType: 'Generic', contentType: 'text/plain', subject: 'Code for {{application.name}}', content: '{{code}}' }],
    });
    if (!withTemplate.ok) throw new Error(withTemplate.error);
    const data = { code: '1', application: { name: 'Shop\r\nBcc: attacker@example.com' } };
    await expect(renderMail(withTemplate.config, 'SignIn', data, templatesDir)).rejects.toBeInstanceOf(InvalidMailError);
    await expect(renderMail(config, 'SignIn', data, templatesDir)).rejects.toBeInstanceOf(InvalidMailError);
    await expect(renderMail(config, 'Generic', { subject: 'Hi\nBcc: attacker@example.com' }, templatesDir)).rejects.toBeInstanceOf(InvalidMailError);
  });
});
