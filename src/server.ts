import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.ts';
import { KEYS_LOCK, migrateDatabase, openDatabase, PURGE_LOCK, runExclusively, runSerialized, type OpenDatabase } from './db/open.ts';
import { DatabaseUnavailableError, type Database } from './db/database.ts';
import { purgeExpiredModels } from './db/oidc-models.ts';
import { purgeVerification } from './db/verification.ts';
import { ensureServerKeys } from './oidc/keys.ts';
import { createKeyRing, type KeyRing } from './oidc/key-ring.ts';
import { createProvider, useKeys } from './oidc/provider.ts';
import { logRefusals } from './oidc/refusal-log.ts';
import { handleOidcFaults } from './oidc/faults.ts';
import { holdRequestWrites } from './oidc/request-writes.ts';
import { createViews } from './http/views.ts';
import { createCodeService, defaultCodePolicy } from './sign-in/codes.ts';
import type { DevMailbox } from './mail/dev-mailbox.ts';
import { SwitchingMailer, storedConnectorConfig } from './mail/mail-source.ts';
import { buildApp } from './app.ts';
import { MailDeliveryError } from './mail/errors.ts';
import { closeGracefully } from './lib/shutdown.ts';
import { loadExperience } from './sign-in/experience.ts';
import { createLockout } from './sign-in/lockout.ts';
import { createPasswordHasher } from './sign-in/passwords.ts';
import { purgeFailures } from './db/lockout.ts';
import { purgeRateLimitHits } from './db/rate-limit-hits.ts';
import { purgeAuditLogs } from './audit/log.ts';
import { auditOidcEvents } from './audit/oidc.ts';
import { ensureConsoleClient, hasAdministrator } from './management/admins.ts';
import { purgeConsoleSessions } from './db/console-sessions.ts';
import { CONSOLE_IDLE_MS } from './console/session.ts';
import { ensureAccountClient } from './account/oidc.ts';
import { ACCOUNT_IDLE_MS } from './account/session.ts';
import { purgeAccountSessions } from './db/account-sessions.ts';
import { purgeChallenges } from './db/passkeys.ts';

/** Advisory lock (PostgreSQL) under which instances starting together register the console once. */
const CONSOLE_CLIENT_LOCK = 'sesame:console-client';

export interface SesameOptions {
  logger?: boolean | object;
  now?: () => number;
  /** Start the embedded dev mailbox when no SMTP is configured (default: outside production). */
  devMailbox?: boolean;
  /** How often expired rows are purged (ms; default config.purgeEveryMs, PURGE_INTERVAL_SECONDS). */
  purgeEveryMs?: number;
  /** Whether this process purges at all (default true; with WORKERS only worker 0 does). */
  purge?: boolean;
  /** How long a person waits for the SMTP server before the page answers anyway (default 8 s). */
  mailAnswerWithinMs?: number;
}

export interface RunningSesame {
  app: FastifyInstance;
  db: Database;
  provider: Provider;
  keyRing: KeyRing;
  mailer: SwitchingMailer;
  devMailbox?: DevMailbox;
  url: string;
  close(): Promise<void>;
}

export class StartupError extends Error {}

/** Opens the database, migrates, loads keys and builds the app; does not listen. */
export async function createSesame(config: Readonly<Config>, options: SesameOptions = {}) {
  const now = options.now ?? Date.now;
  // The settings feed (PostgreSQL) may have something to report once the app, and its log, exist.
  const feedLog: { warn?: (message: string) => void } = {};
  const database = await openConfiguredDatabase(config, feedLog);
  const { db } = database;
  try {
    await migrateDatabase(database, config.paths.migrations).catch((error: unknown) => {
      throw databaseStartupError(config, error);
    });
    // Instances starting together on an empty database: the first creates the keys, the rest read them.
    await runSerialized(database, KEYS_LOCK, () => ensureServerKeys(db, now()));
    // The admin console is an app of Sesame's own, registered (or put back as it must be) at every start.
    await runSerialized(database, CONSOLE_CLIENT_LOCK, () => ensureConsoleClient(db, config.endpoint, now()));
    // So is the account page (/account: a person's passkeys and second factor), under the same lock.
    await runSerialized(database, CONSOLE_CLIENT_LOCK, () => ensureAccountClient(db, config.endpoint, now()));
    const keyRing = await createKeyRing({ db, now, signingGraceMs: config.signingKeyGraceMs });
    const hasConnector = Boolean(await storedConnectorConfig(db));
    const wantDevMailbox = options.devMailbox ?? config.env !== 'production';
    if (!config.smtp && !hasConnector && config.env === 'production') {
      throw new StartupError(
        'no SMTP server is configured: set SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS and SMTP_FROM, or run `sesame connector set smtp --file cfg.json` (the dev mailbox is only for NODE_ENV other than production)',
      );
    }
    // Loaded only when used: production never pays for smtp-server and mailparser.
    const devMailbox =
      !config.smtp && !hasConnector && wantDevMailbox ? await (await import('./mail/dev-mailbox.ts')).startDevMailbox() : undefined;
    const mailer = new SwitchingMailer({ db, templatesDir: config.paths.email, envSmtp: config.smtp, devMailbox });
    const views = createViews(config.paths.pages, config.env === 'production');
    // The OIDC layer renders its pages through the app's views, passed in: it never imports the UI.
    const provider = createProvider({
      config,
      db,
      keys: keyRing.current(),
      pages: views,
      languageInfo: async () => (await loadExperience(db, config.codeTtlMinutes)).languageInfo,
      now,
    });
    // A rotation seen while running (any process's `sesame keys rotate`) applies without a restart.
    keyRing.onChange((keys) => useKeys(provider, keys));
    const oidcFaults = handleOidcFaults(provider, views); // before buildApp takes provider.callback()
    // Inside the fault handler, which answers a failed flush with a 503.
    holdRequestWrites(provider, db);
    const codes = createCodeService({
      db,
      hmacKeys: () => keyRing.current().codeHmac,
      now,
      answerWithinMs: options.mailAnswerWithinMs,
      // Only a mail that certainly did not leave gives its send back (see MailDeliveryError).
      certainlyNotSent: (error) => !(error instanceof MailDeliveryError) || error.certainlyNotSent,
      // Read per use: a change to the sign-in experience applies to the next code.
      policy: async () => {
        const { verificationCode } = await loadExperience(db, config.codeTtlMinutes);
        const policy = defaultCodePolicy(verificationCode.ttlMinutes);
        policy.maxAttempts = verificationCode.maxAttempts;
        policy.perIp.limit = config.limits.codeSendsPerIpPer15Minutes;
        return policy;
      },
    });
    const lockout = createLockout(db, now);
    const passwords = createPasswordHasher();
    const app = await buildApp({
      config,
      db,
      provider,
      views,
      codes,
      lockout,
      passwords,
      mailer: () => mailer,
      cookieKeys: () => keyRing.current().cookie,
      keyRing,
      devMailbox,
      now,
      logger: options.logger,
    });
    logRefusals(provider, app.log);
    feedLog.warn = (message) => app.log.warn(message);
    auditOidcEvents(provider, db, app.log);
    oidcFaults.logTo(app.log);
    return { app, db, database, provider, keyRing, mailer, devMailbox, now };
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error instanceof DatabaseUnavailableError ? new StartupError(error.message, { cause: error }) : error;
  }
}

/**
 * A database that cannot be opened is a startup error: one line that names the file (or the
 * PostgreSQL server) and what to do.
 */
async function openConfiguredDatabase(config: Readonly<Config>, feedLog: { warn?: (message: string) => void }): Promise<OpenDatabase> {
  try {
    // PostgreSQL: an idle pooled connection that fails is replaced on the next checkout, and the
    // next query reports a lasting fault (/health, 503), so the idle error itself is not logged.
    return await openDatabase(config.database, {
      followSettings: true,
      onSettingsNoticesMissing: () =>
        feedLog.warn?.(
          'settings changes made by other instances are not being announced to this one (a pooler such as PgBouncer in transaction mode between Sesame and PostgreSQL?): they now take effect within 5 s instead of at once; connect Sesame directly or through a session-mode pool to restore that',
        ),
    });
  } catch (error) {
    throw databaseStartupError(config, error);
  }
}

function databaseStartupError(config: Readonly<Config>, error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return new StartupError(error.message, { cause: error });
  const code = (error as { code?: unknown }).code;
  if (config.database.kind === 'sqlite' && typeof code === 'string' && code.startsWith('SQLITE_')) {
    return new StartupError(
      `the database ${config.database.file} could not be prepared (${(error as Error).message}): is DATABASE_URL pointing at another program's database?`,
      { cause: error },
    );
  }
  if (config.database.kind === 'postgres' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return new StartupError(
      `the PostgreSQL database ${config.database.safeUrl} could not be prepared (${(error as Error).message}, ${code}): is DATABASE_URL pointing at another program's database, or may its user not create tables?`,
      { cause: error },
    );
  }
  return error;
}

/** createSesame + listen + periodic purge; close() drains requests and closes everything. */
export async function startSesame(config: Readonly<Config>, options: SesameOptions = {}): Promise<RunningSesame> {
  const sesame = await createSesame(config, options);
  const { app, db, mailer, devMailbox, now } = sesame;
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await mailer.close();
    await devMailbox?.close();
    await db.destroy();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartupError(`port ${config.port} is already in use on ${config.host}: stop the other program or set PORT`);
    }
    throw error;
  }
  // On PostgreSQL one instance at a time purges (the others skip the round).
  const purge = async () => {
    const ran = await runExclusively(sesame.database, PURGE_LOCK, async () => {
      const startedAt = Date.now();
      const at = now();
      await purgeExpiredModels(db, at);
      await purgeVerification(db, at - 24 * 60 * 60 * 1000, at - 24 * 60 * 60 * 1000);
      await purgeFailures(db, at - 24 * 60 * 60 * 1000);
      await purgeRateLimitHits(db, Date.now() - 10 * 60 * 1000);
      // Audit records carry wall-clock times. In batches, at most AUDIT_PURGE_MAX_PER_ROUND rows a round.
      await purgeAuditLogs(db, Date.now() - config.auditLogRetentionDays * 24 * 60 * 60 * 1000);
      await purgeConsoleSessions(db, at, at - CONSOLE_IDLE_MS);
      await purgeAccountSessions(db, at, at - ACCOUNT_IDLE_MS);
      await purgeChallenges(db, at);
      // Each round's span, so an operator (and the multi-instance test) can see that rounds never overlap.
      app.log.debug({ startedAt, endedAt: Date.now() }, 'purged expired rows');
    });
    if (!ran) app.log.debug('purge round skipped: another instance is purging');
  };
  const timer =
    options.purge === false
      ? undefined
      : setInterval(() => void purge().catch((error) => app.log.error({ err: error }, 'purge failed')), options.purgeEveryMs ?? config.purgeEveryMs);
  timer?.unref();
  // Keys rotated by another process: looked for every second (see src/oidc/key-ring.ts).
  sesame.keyRing.onChange(() => app.log.info('server keys changed: now using the keys stored by a rotation'));
  sesame.keyRing.start({
    failed: (error) => app.log.warn({ err: error }, 'cannot look for rotated server keys; retrying every second'),
    recovered: () => app.log.info('looking for rotated server keys again'),
  });
  // The first start (and every start until there is one): how to make the first administrator.
  if (options.purge !== false && !(await hasAdministrator(db).catch(() => true))) {
    app.log.info(`no administrator yet: run \`npx sesame admin add you@example.com\`, then sign in to the admin console at ${config.endpoint}/console`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    ...sesame,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    async close() {
      clearInterval(timer);
      sesame.keyRing.stop();
      await closeGracefully(app);
      await mailer.close();
      await devMailbox?.close();
      await db.destroy();
    },
  };
}
