import type { Database, Queryable } from '../db/database.ts';
import { cachedFromSettings, readSetting } from '../db/settings.ts';
import { connectorConfigFromEnv, parseSmtpConnectorConfig, type SmtpConnectorConfig } from './connector-config.ts';
import type { Mailer, OutgoingMail, SentMail } from './mailer.ts';
import { createThreadedMailer } from './threaded-mailer.ts';
import type { SmtpSettings } from '../config/index.ts';

export const SMTP_CONNECTOR_SETTING = 'connector.smtp';

export interface MailSourceOptions {
  db: Database;
  templatesDir: string;
  envSmtp?: SmtpSettings;
  /** The embedded dev mailbox, used when nothing else is configured outside production. */
  devMailbox?: { host: string; port: number };
}

/**
 * The connector saved with `sesame connector set smtp`, validated; read and validated again only
 * when a setting changed (see cachedFromSettings), not on every send.
 */
export const storedConnectorConfig = cachedFromSettings(async (db: Queryable) => {
  const stored = await readSetting<unknown>(db, SMTP_CONNECTOR_SETTING);
  if (!stored) return undefined;
  const parsed = parseSmtpConnectorConfig(stored.value);
  if (!parsed.ok) throw new Error(`the stored SMTP connector config is invalid: ${parsed.error}`);
  return { config: parsed.config, updatedAt: stored.updatedAt };
});

/**
 * Where mail goes, in order: the connector saved with `sesame connector set smtp` (so operators can
 * change SMTP without a restart: a newer saved config replaces the transport on the next send), the
 * SMTP_* variables, then the dev mailbox.
 */
export class SwitchingMailer implements Mailer {
  private current?: { mailer: Mailer; config: SmtpConnectorConfig };
  /** From SMTP_* or for the dev mailbox: validated once, they cannot change while running. */
  private fallback?: SmtpConnectorConfig | null;

  constructor(private readonly options: MailSourceOptions) {}

  async hasConfiguration(): Promise<boolean> {
    return Boolean((await storedConnectorConfig(this.options.db)) || this.options.envSmtp || this.options.devMailbox);
  }

  private fallbackConfig(): SmtpConnectorConfig | undefined {
    if (this.fallback === undefined) {
      const { envSmtp, devMailbox } = this.options;
      if (envSmtp) this.fallback = connectorConfigFromEnv(envSmtp);
      else if (devMailbox) {
        const { host, port } = devMailbox;
        this.fallback = connectorConfigFromEnv({ host, port, secure: false, from: 'Sesame <no-reply@sesame.localhost>' });
      } else this.fallback = null;
    }
    return this.fallback ?? undefined;
  }

  private async resolve(): Promise<{ mailer: Mailer } | undefined> {
    const config = (await storedConnectorConfig(this.options.db))?.config ?? this.fallbackConfig();
    if (!config) return undefined;
    // The same object for as long as no setting changed; after a change (maybe to another setting)
    // the transport and its pooled connections are replaced only if the config itself differs.
    if (this.current && this.current.config !== config && JSON.stringify(this.current.config) === JSON.stringify(config)) {
      this.current = { ...this.current, config };
    }
    if (this.current?.config !== config) {
      const previous = this.current;
      this.current = { mailer: createThreadedMailer(config, { templatesDir: this.options.templatesDir }), config };
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
