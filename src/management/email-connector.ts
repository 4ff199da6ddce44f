import type { Database } from '../db/database.ts';
import { deleteSetting, readSetting, writeSetting } from '../db/settings.ts';
import { parseSmtpConnectorConfig } from '../mail/connector-config.ts';
import { SMTP_CONNECTOR_SETTING } from '../mail/mail-source.ts';
import { createSmtpMailer, type Mailer } from '../mail/mailer.ts';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../lib/validation.ts';
import { auditChange, type ManagementActor } from './audit.ts';
import { InvalidInputError } from './errors.ts';

/** What a hidden password reads as; sent back unchanged (a GET, edited, then saved), it keeps the stored one. */
export const HIDDEN_PASSWORD = '********';

type StoredConfig = Record<string, unknown> & { auth?: { pass?: unknown } };

/** The stored connector config as it was saved, with the SMTP password hidden; undefined when none. */
export async function showEmailConnector(db: Database): Promise<{ config: Record<string, unknown>; updatedAt: number } | undefined> {
  const stored = await readSetting<StoredConfig>(db, SMTP_CONNECTOR_SETTING);
  if (!stored) return undefined;
  const shown = structuredClone(stored.value);
  if (shown.auth && typeof shown.auth === 'object' && shown.auth.pass) shown.auth.pass = HIDDEN_PASSWORD;
  return { config: shown, updatedAt: stored.updatedAt };
}

/** Checks a connector config in Logto's SMTP format; the message names the field at fault. */
export function checkConnectorConfig(raw: unknown): void {
  // Stored as given (unknown keys included), so it must serialise: refuse deep nesting first.
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH)) throw new InvalidInputError(`invalid SMTP connector config: nested more than ${MAX_JSON_DEPTH} levels deep`);
  const parsed = parseSmtpConnectorConfig(raw);
  if (!parsed.ok) throw new InvalidInputError(`invalid SMTP connector config: ${parsed.error}`);
}

/**
 * Stores the SMTP connector (used for the next mail, no restart). A password given as
 * HIDDEN_PASSWORD keeps the one already stored.
 */
export async function saveEmailConnector(db: Database, raw: unknown, who: ManagementActor, now = Date.now()): Promise<{ host: string; port: number }> {
  // Before anything walks it (structuredClone recurses): JSON.parse accepts a value nested thousands deep.
  if (nestedDeeperThan(raw, MAX_JSON_DEPTH)) throw new InvalidInputError(`invalid SMTP connector config: nested more than ${MAX_JSON_DEPTH} levels deep`);
  return db.transaction().execute(async (tx) => {
    const config = structuredClone(raw) as StoredConfig;
    if (config && typeof config === 'object' && config.auth && typeof config.auth === 'object' && config.auth.pass === HIDDEN_PASSWORD) {
      const stored = await readSetting<StoredConfig>(tx, SMTP_CONNECTOR_SETTING);
      const pass = stored?.value.auth?.pass;
      if (typeof pass !== 'string') throw new InvalidInputError(`auth.pass is "${HIDDEN_PASSWORD}", but no password is stored to keep: send the real password`);
      config.auth.pass = pass;
    }
    checkConnectorConfig(config);
    const parsed = parseSmtpConnectorConfig(config);
    if (!parsed.ok) throw new InvalidInputError(parsed.error);
    await writeSetting(tx, SMTP_CONNECTOR_SETTING, config, now);
    await auditChange(tx, who, 'Connector.Update', {}, { host: parsed.config.host, port: parsed.config.port });
    return { host: parsed.config.host, port: parsed.config.port };
  });
}

/** Forgets the stored connector (SMTP_* variables, or the dev mailbox, apply again); false when none was stored. */
export async function removeEmailConnector(db: Database, who: ManagementActor, now = Date.now()): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const removed = await deleteSetting(tx, SMTP_CONNECTOR_SETTING, now);
    if (removed) await auditChange(tx, who, 'Connector.Delete', {});
    return removed;
  });
}

/**
 * Sends a test email through `mailer`, or, given a `config` (not saved), through a one-off transport
 * for it; returns the SMTP server's answer. A failure throws the mailer's error, which names the cause.
 */
export async function sendTestEmail(options: { to: string; mailer?: Mailer; config?: unknown; templatesDir: string }): Promise<string> {
  let oneOff: Mailer | undefined;
  if (options.config !== undefined) {
    checkConnectorConfig(options.config);
    const parsed = parseSmtpConnectorConfig(options.config);
    if (!parsed.ok) throw new InvalidInputError(parsed.error);
    oneOff = createSmtpMailer(parsed.config, { templatesDir: options.templatesDir, pool: false });
  }
  const mailer = oneOff ?? options.mailer;
  if (!mailer) throw new InvalidInputError('no SMTP server is configured: store a connector or set SMTP_* variables');
  try {
    const sent = await mailer.send({
      to: options.to,
      usageType: 'Generic',
      data: { subject: 'Sesame test email', message: 'Your SMTP settings work: Sesame can send email.', code: '123456', application: { name: 'Sesame' } },
    });
    return sent.response;
  } finally {
    await oneOff?.close();
  }
}
