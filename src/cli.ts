import { readFile } from 'node:fs/promises';
import { oneLine, parse, quote, UsageError, type Handler, type Io } from './cli/command.ts';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/index.ts';
import { migrateDatabase, openDatabase } from './db/open.ts';
import type { Database } from './db/database.ts';
import { InvalidInputError } from './management/errors.ts';
import { ensureServerKeys, KEY_PROPAGATION_MS, KEYS_RECHECK_MS } from './oidc/keys.ts';
import { SwitchingMailer, storedConnectorConfig } from './mail/mail-source.ts';
import { normalizeEmail } from './sign-in/email.ts';
import { english } from './sign-in/messages.ts';
import { InvalidExperienceError, loadExperience, type ExperienceChanges } from './sign-in/experience.ts';
import { RESOURCE_HELP, resourceCommands } from './cli/resources.ts';
import { DB_HELP, dbCommands } from './cli/db.ts';
import { APP_HELP, appCommands } from './cli/apps.ts';
import { USER_HELP, userCommands } from './cli/users.ts';
import { CLI } from './management/audit.ts';
import { rotateKeysOf } from './management/signing-keys.ts';
import { removeEmailConnector, saveEmailConnector } from './management/email-connector.ts';
import { updateExperience } from './management/experience.ts';
import { LOGS_HELP, logsCommands } from './cli/logs.ts';
import { ADMIN_HELP, adminCommands } from './cli/admins.ts';
import { booleanWord, mustBeTrueOrFalse, parseOr } from './lib/validation.ts';

const HELP = `Usage: sesame <command>

${APP_HELP}

${USER_HELP}

${ADMIN_HELP}

Keys
  keys rotate [--purpose signing|cookie|code-hmac]   new keys sign after the next start; old ones still verify

Mail
  connector set smtp --file cfg.json    store an SMTP connector config (Logto's format); applies at once
  connector show                        print the stored config (password hidden)
  connector remove                      forget the stored config (SMTP_* variables apply again)
  connector test --to ADDRESS           send a test email and print the SMTP server's answer

Sign-in experience
  experience show
  experience set [--sign-in-mode SignIn|Register|SignInAndRegister]
                 [--password-at-sign-up off|optional|required]
                 [--sign-in-methods verificationCode,password]
                 [--code-ttl-minutes 1-60] [--code-max-attempts 1-5]
                 [--code-link true|false]  (a sign-in link in the code's email; lives as long as the code)
                 [--password-min-length 8-256] [--reject-common-passwords true|false]
                 [--reject-email-as-password true|false]
                 [--auto-detect-language true|false]           follow the browser's Accept-Language
                 [--fallback-language en|de|fr|es|ja|zh-CN|ar]
                 [--mfa-policy off|optional|required]         changes apply at once

${DB_HELP}

Configuration comes from the environment and .env (DATABASE_URL selects the database).

${RESOURCE_HELP}

${LOGS_HELP}`;

const commands: Record<string, Handler> = {
  ...resourceCommands,
  ...dbCommands,
  ...appCommands,
  ...userCommands,
  ...logsCommands,
  ...adminCommands,
  async 'keys rotate'(args, { config, db, io }) {
    const { values } = parse(args, { purpose: { type: 'string' } });
    const purposes = values.purpose === undefined ? (['signing', 'cookie'] as const) : [values.purpose];
    for (const purpose of purposes) {
      if (purpose !== 'signing' && purpose !== 'cookie' && purpose !== 'code-hmac') {
        throw new UsageError(`--purpose must be signing, cookie or code-hmac, got ${quote(purpose)}`);
      }
    }
    const database = await db();
    await ensureServerKeys(database);
    const at = Date.now();
    const keyType = { signing: 'private-keys', cookie: 'cookie-keys', 'code-hmac': 'code-hmac' } as const;
    for (const purpose of purposes) await rotateKeysOf(database, keyType[purpose as keyof typeof keyType], CLI, at);
    io.out(`Rotated ${purposes.join(' and ')} keys; old keys stay valid for 30 days. Running instances see the new keys within ${KEYS_RECHECK_MS / 1000} s, no restart needed.`);
    if (purposes.includes('signing')) {
      // Signing waits until every JWKS cache (max-age) has seen the new keys: see signingJwks().
      io.out(
        `New signing keys: published now at /oidc/jwks; they sign from ${describeDuration(config.signingKeyGraceMs)} from now (${new Date(at + config.signingKeyGraceMs).toISOString()}, SIGNING_KEY_GRACE_SECONDS). Until then the current keys sign.`,
      );
    }
    const others = purposes.filter((purpose) => purpose !== 'signing');
    if (others.length) io.out(`New ${others.join(' and ')} keys: accepted at once, used for new ${others.map((p) => (p === 'cookie' ? 'cookies' : 'codes')).join(' and ')} from ${KEY_PROPAGATION_MS / 1000} s from now.`);
    return 0;
  },

  async 'connector set'(args, { db, io }) {
    const { values, positionals } = parse(args, { file: { type: 'string' } }, true);
    if (positionals[0] !== 'smtp' || positionals.length !== 1) throw new UsageError('usage: sesame connector set smtp --file cfg.json');
    if (!values.file) throw new UsageError('--file is required');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(values.file, 'utf8'));
    } catch (error) {
      throw new UsageError(`cannot read ${quote(values.file)} as JSON: ${(error as Error).message}`);
    }
    let saved: { host: string; port: number };
    try {
      saved = await saveEmailConnector(await db(), raw, CLI);
    } catch (error) {
      if (error instanceof InvalidInputError) throw new UsageError(error.message);
      throw error;
    }
    io.out(`Saved the SMTP connector (${saved.host}:${saved.port}). It applies to the next email Sesame sends.`);
    return 0;
  },

  async 'connector show'(_args, { db, io }) {
    const stored = await storedConnectorConfig(await db());
    if (!stored) {
      io.out('No SMTP connector is stored; SMTP_* variables (or the dev mailbox) are used.');
      return 0;
    }
    const shown = structuredClone(stored.config) as Record<string, unknown> & { auth?: { pass?: string } };
    if (shown.auth?.pass) shown.auth.pass = '********';
    io.out(JSON.stringify(shown, null, 2));
    return 0;
  },

  async 'connector remove'(_args, { db, io }) {
    const removed = await removeEmailConnector(await db(), CLI);
    io.out(removed ? 'Removed the stored SMTP connector.' : 'No SMTP connector was stored.');
    return 0;
  },

  async 'connector test'(args, { config, db, io }) {
    const { values } = parse(args, { to: { type: 'string' } });
    const to = normalizeEmail(values.to);
    if (!to.ok) throw new UsageError(`--to: ${english(to.error)}`);
    const mailer = new SwitchingMailer({ db: await db(), templatesDir: config.paths.email, envSmtp: config.smtp });
    if (!(await mailer.hasConfiguration())) {
      io.err('No SMTP server is configured: set SMTP_* variables or run `sesame connector set smtp --file cfg.json`.');
      return 1;
    }
    try {
      const sent = await mailer.send({
        to: to.email,
        usageType: 'Generic',
        data: { subject: 'Sesame test email', message: 'Your SMTP settings work: Sesame can send email.', code: '123456', application: { name: 'Sesame' } },
      });
      io.out(`Sent. SMTP server answered: ${sent.response}`);
      return 0;
    } catch (error) {
      io.err(`Sending failed: ${(error as Error).message}`);
      return 1;
    } finally {
      await mailer.close();
    }
  },

  async 'experience show'(_args, { config, db, io }) {
    io.out(JSON.stringify(await loadExperience(await db(), config.codeTtlMinutes), null, 2));
    return 0;
  },

  async 'experience set'(args, { config, db, io }) {
    const { values } = parse(args, {
      'sign-in-mode': { type: 'string' },
      'password-at-sign-up': { type: 'string' },
      'sign-in-methods': { type: 'string' },
      'code-ttl-minutes': { type: 'string' },
      'code-max-attempts': { type: 'string' },
      'code-link': { type: 'string' },
      'password-min-length': { type: 'string' },
      'reject-common-passwords': { type: 'string' },
      'reject-email-as-password': { type: 'string' },
      'auto-detect-language': { type: 'string' },
      'fallback-language': { type: 'string' },
      'mfa-policy': { type: 'string' },
    });
    // A whole number (negative too) goes to the experience schema as a number; anything else as
    // the text typed, so the one message naming the allowed range comes from the schema.
    const number = (value: string | undefined) =>
      value === undefined ? undefined : /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? Number(value) : value;
    const bool = (flag: string, value: string | undefined) => parseOr(booleanWord(mustBeTrueOrFalse(`--${flag}`), 'strict').optional(), value, usage);
    const changes: ExperienceChanges = {};
    if (values['sign-in-mode'] !== undefined) changes.signInMode = values['sign-in-mode'];
    if (values['password-at-sign-up'] !== undefined) changes.passwordAtSignUp = values['password-at-sign-up'];
    if (values['sign-in-methods'] !== undefined) changes.signInMethods = values['sign-in-methods'].split(',').map((m) => m.trim()).filter(Boolean);
    const ttl = number(values['code-ttl-minutes']);
    const attempts = number(values['code-max-attempts']);
    const link = bool('code-link', values['code-link']);
    if (ttl !== undefined || attempts !== undefined || link !== undefined) {
      changes.verificationCode = {
        ...(ttl !== undefined && { ttlMinutes: ttl }),
        ...(attempts !== undefined && { maxAttempts: attempts }),
        ...(link !== undefined && { link }),
      };
    }
    const minLength = number(values['password-min-length']);
    const rejectCommon = bool('reject-common-passwords', values['reject-common-passwords']);
    const rejectEmail = bool('reject-email-as-password', values['reject-email-as-password']);
    if (minLength !== undefined || rejectCommon !== undefined || rejectEmail !== undefined) {
      changes.passwordPolicy = {
        ...(minLength !== undefined && { minLength }),
        ...(rejectCommon !== undefined && { rejectCommon }),
        ...(rejectEmail !== undefined && { rejectEmail }),
      };
    }
    const autoDetect = bool('auto-detect-language', values['auto-detect-language']);
    const fallbackLanguage = values['fallback-language'];
    if (autoDetect !== undefined || fallbackLanguage !== undefined) {
      changes.languageInfo = { ...(autoDetect !== undefined && { autoDetect }), ...(fallbackLanguage !== undefined && { fallbackLanguage }) };
    }
    if (values['mfa-policy'] !== undefined) changes.mfa = { policy: values['mfa-policy'] };
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to set; run `sesame help` for the experience options');
    try {
      io.out(JSON.stringify(await updateExperience(await db(), changes, CLI, config.codeTtlMinutes), null, 2));
    } catch (error) {
      if (error instanceof InvalidExperienceError) throw new UsageError(inFlagTerms(error.message));
      throw error;
    }
    return 0;
  },
};

const usage = (message: string) => new UsageError(message);

/** The experience schema names fields as stored; the CLI user typed flags. */
const EXPERIENCE_FLAGS: Record<string, string> = {
  'verificationCode.ttlMinutes': '--code-ttl-minutes',
  'verificationCode.maxAttempts': '--code-max-attempts',
  'verificationCode.link': '--code-link',
  'passwordPolicy.minLength': '--password-min-length',
  'passwordPolicy.rejectCommon': '--reject-common-passwords',
  'passwordPolicy.rejectEmail': '--reject-email-as-password',
  signInMode: '--sign-in-mode',
  passwordAtSignUp: '--password-at-sign-up',
  signInMethods: '--sign-in-methods',
  'languageInfo.autoDetect': '--auto-detect-language',
  'languageInfo.fallbackLanguage': '--fallback-language',
  'mfa.policy': '--mfa-policy',
};
const EXPERIENCE_FIELD = new RegExp(`(?<![\\w.-])(${Object.keys(EXPERIENCE_FLAGS).map((k) => k.replace('.', '\\.')).join('|')})(?![\\w.])`, 'g');

function inFlagTerms(message: string): string {
  return message.replace(EXPERIENCE_FIELD, (field) => EXPERIENCE_FLAGS[field] ?? field);
}

export async function main(argv: string[], io: Io = { out: console.log, err: console.error }, env = readEnvironment()): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.out(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  // A two-word command (`app create`), or else a one-word one (`logs --user ...`) that takes the rest.
  const twoWords = `${argv[0]} ${argv[1] ?? ''}`.trim();
  const words = Object.hasOwn(commands, twoWords) ? 2 : 1;
  const handler = words === 2 ? commands[twoWords] : Object.hasOwn(commands, argv[0]!) ? commands[argv[0]!] : undefined;
  if (!handler) {
    io.err(`unknown command "sesame ${argv.slice(0, 2).join(' ')}"; run \`sesame help\``);
    return 2;
  }
  let config: Readonly<Config>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) io.err(`config error: ${line}`);
      return 2;
    }
    throw error;
  }
  let database: Database | undefined;
  const db = async () => {
    if (!database) {
      const opened = await openDatabase(config.database);
      database = opened.db;
      await migrateDatabase(opened, config.paths.migrations);
    }
    return database;
  };
  try {
    return await handler(argv.slice(words), { config, db, io });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${oneLine(error.message)}`);
      return 2;
    }
    // Anything else (the database cannot be opened or written, ...) is not the caller's mistake:
    // still one line and no stack trace, exit code 1.
    io.err(`error: ${oneLine(error instanceof Error ? error.message : String(error))}`);
    return 1;
  } finally {
    await database?.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}

/** "10 minutes", "90 seconds", "2 hours": how long the signing grace is, for people. */
function describeDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}
