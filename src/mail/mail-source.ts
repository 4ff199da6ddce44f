import type { Database } from '../db/database.ts';
import { readSetting } from '../db/settings.ts';
import { connectorConfigFromEnv, parseSmtpConnectorConfig, type SmtpConnectorConfig } from './connector-config.ts';
import { createSmtpMailer, type Mailer, type OutgoingMail, type SentMail } from './mailer.ts';
import type { SmtpSettings } from '../config/index.ts';

export const SMTP_CONNECTOR_SETTING = 'connector.smtp';

export type MailOrigin = 'connector' | 'environment' | 'dev-mailbox';

export interface MailSourceOptions {
  db: Database;
  templatesDir: string;
  envSmtp?: SmtpSettings;
  /** The embedded dev mailbox, used when nothing else is configured outside production. */
  devMailbox?: { host: string; port: number };
}

export async function storedConnectorConfig(db: Database): Promise<{ config: SmtpConnectorConfig; updatedAt: number } | undefined> {
  const stored = await readSetting<unknown>(db, SMTP_CONNECTOR_SETTING);
  if (!stored) return undefined;
  const parsed = parseSmtpConnectorConfig(stored.value);
  if (!parsed.ok) throw new Error(`the stored SMTP connector config is invalid: ${parsed.error}`);
  return { config: parsed.config, updatedAt: stored.updatedAt };
}

/**
 * Where mail goes, in order: the connector saved with `sesame connector set smtp` (so operators can
 * change SMTP without a restart: a newer saved config replaces the transport on the next send), the
 * SMTP_* variables, then the dev mailbox.
 */
export class SwitchingMailer implements Mailer {
  private current?: { mailer: Mailer; key: string; origin: MailOrigin };

  constructor(private readonly options: MailSourceOptions) {}

  async hasConfiguration(): Promise<boolean> {
    return Boolean((await storedConnectorConfig(this.options.db)) || this.options.envSmtp || this.options.devMailbox);
  }

  async origin(): Promise<MailOrigin | undefined> {
    return (await this.resolve())?.origin;
  }

  private async resolve(): Promise<{ mailer: Mailer; origin: MailOrigin } | undefined> {
    const stored = await storedConnectorConfig(this.options.db);
    let next: { config: SmtpConnectorConfig; key: string; origin: MailOrigin } | undefined;
    if (stored) next = { config: stored.config, key: `connector:${stored.updatedAt}`, origin: 'connector' };
    else if (this.options.envSmtp) next = { config: connectorConfigFromEnv(this.options.envSmtp), key: 'env', origin: 'environment' };
    else if (this.options.devMailbox) {
      const { host, port } = this.options.devMailbox;
      next = {
        config: connectorConfigFromEnv({ host, port, secure: false, from: 'Sesame <no-reply@sesame.localhost>' }),
        key: 'dev',
        origin: 'dev-mailbox',
      };
    }
    if (!next) return undefined;
    if (this.current?.key !== next.key) {
      const previous = this.current;
      this.current = {
        mailer: createSmtpMailer(next.config, { templatesDir: this.options.templatesDir }),
        key: next.key,
        origin: next.origin,
      };
      if (previous) void previous.mailer.close();
    }
    return this.current;
  }

  async send(mail: OutgoingMail): Promise<SentMail> {
    const target = await this.resolve();
    if (!target) throw new Error('no SMTP server is configured');
    return target.mailer.send(mail);
  }

  async verify(): Promise<void> {
    const target = await this.resolve();
    if (!target) throw new Error('no SMTP server is configured');
    await target.mailer.verify();
  }

  async close(): Promise<void> {
    await this.current?.mailer.close();
    this.current = undefined;
  }
}
