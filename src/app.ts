import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.ts';
import type { Database } from './db/database.ts';
import type { Views } from './http/views.ts';
import type { CodeService } from './sign-in/codes.ts';
import type { Mailer } from './mail/mailer.ts';
import type { Lockout } from './sign-in/lockout.ts';
import type { PasswordHasher } from './sign-in/passwords.ts';
import type { DevMailbox } from './mail/dev-mailbox.ts';
import { interactionRoutes } from './sign-in/routes/index.ts';
import { mountOidc, oidcFastLane } from './http/oidc.ts';
import { managementApi } from './api/index.ts';
import { addSecurityHeaders } from './http/security-headers.ts';
import { fastifyTrustProxy } from './lib/request.ts';
import { healthRoute } from './health.ts';
import { withRedactedRequests } from './http/log-redaction.ts';
import { answerErrors } from './http/errors.ts';
import { assetRoutes } from './http/assets.ts';
import { languageRoutes } from './http/language.ts';
import { loadExperience } from './sign-in/experience.ts';
import { adminConsole } from './console/index.ts';
import { accountPages } from './account/index.ts';
import type { AccountSection } from './account/context.ts';
import { mfaSection } from './account/mfa.ts';
import { passkeyAssetRoutes } from './passkeys/assets.ts';
import { relyingParty } from './passkeys/webauthn.ts';
import { createKnownDevices } from './sign-in/known-devices.ts';
import { createProgressHint } from './sign-in/progress-hint.ts';
import { liveCookieSigner } from './http/cookie-signer.ts';
import { databaseRateLimitStore } from './http/rate-limit-store.ts';
import type { KeyRing } from './oidc/key-ring.ts';

export interface AppDeps {
  config: Readonly<Config>;
  db: Database;
  provider: Provider;
  views: Views;
  codes: CodeService;
  lockout: Lockout;
  passwords: PasswordHasher;
  mailer: () => Mailer;
  /** The cookie keys in use now, the signing one first (see src/oidc/key-ring.ts). */
  cookieKeys: () => readonly string[];
  /** Serves /oidc/jwks: every signing key stored, including ones rotated in while running. */
  keyRing: Pick<KeyRing, 'jwks'>;
  devMailbox?: DevMailbox;
  now?: () => number;
  logger?: boolean | object;
}

/** Builds the whole HTTP surface. No listening and no side effects: main.ts and tests decide those. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db, provider, views } = deps;
  // Requests under /oidc go from the HTTP server straight to oidc-provider (see oidcFastLane).
  const lane = oidcFastLane();
  const app = Fastify({
    serverFactory: lane.serverFactory,
    // Request lines without secrets carried in URLs (the sign-in link's token).
    logger: withRedactedRequests(deps.logger ?? false),
    trustProxy: fastifyTrustProxy(config.trustProxy),
    bodyLimit: 64 * 1024,
  });

  // Set before any plugin scope is created so every route inherits them.
  answerErrors(app, views, async () => (await loadExperience(db, config.codeTtlMinutes)).languageInfo);

  await app.register(rateLimit, {
    global: true,
    max: config.limits.requestsPerIpPerMinute,
    timeWindow: '1 minute',
    allowList: (request) => request.url === '/health',
    // On PostgreSQL several instances may serve one issuer, and with WORKERS several processes do:
    // they count in the database, so the budget is the same however many there are. If the database
    // cannot count, the request goes on (and meets the same fault where it needs the database;
    // /health reports it). One SQLite process keeps the plugin's in-memory counters.
    ...(config.database.kind === 'postgres' || config.workers > 1 ? { store: databaseRateLimitStore(db), skipOnError: true } : {}),
  });

  await mountOidc(app, { config, provider, keyRing: deps.keyRing, lane });

  // The management API: JSON with Bearer tokens, in its own scope (its own errors, no cookies or CSRF).
  await managementApi(app, {
    config,
    db,
    passwords: deps.passwords,
    mailer: deps.mailer,
    jwks: () => deps.keyRing.jwks(),
    now: deps.now ?? Date.now,
  });

  // Sesame's own pages. CSRF lives in this scope only: the token endpoints should not pay for page
  // plumbing on every call. Their security headers come from the same definition as those mountOidc
  // gives /oidc and the 404 page (src/http/security-headers.ts).
  await app.register(async (pages) => {
    addSecurityHeaders(pages, config);
    await pages.register(cookie, { secret: liveCookieSigner(deps.cookieKeys) });
    await pages.register(formbody);
    await pages.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: '_sesame_csrf',
      cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies, signed: true },
    });

    healthRoute(pages, { db });

    assetRoutes(pages, { publicDir: config.paths.public, issuer: config.issuer, views });
    languageRoutes(pages, { secureCookies: config.secureCookies });

    // The admin console: a client of /api with its own session, in this scope for its cookies and CSRF.
    await adminConsole(pages, { config, db, views, jwks: () => deps.keyRing.jwks(), now: deps.now ?? Date.now });

    // The person's own account page (/account): passkeys, and the sections other modules plug in.
    passkeyAssetRoutes(pages, config.paths.public);
    // Sections other modules add to the account page (src/account/context.ts: AccountSection).
    const accountSections: AccountSection[] = [mfaSection()];
    await accountPages(pages, { config, db, views, jwks: () => deps.keyRing.jwks(), now: deps.now ?? Date.now, sections: accountSections });

    if (deps.devMailbox) await pages.register((await import('./mail/dev-mailbox-routes.ts')).devMailboxRoutes(deps.devMailbox, views));

    // The sign-in routes' schemas are zod: they validate and type each route's params, query and body.
    await pages.register(async (scope) => {
      scope.setValidatorCompiler(validatorCompiler);
      scope.setSerializerCompiler(serializerCompiler);
      await interactionRoutes(scope, {
        provider,
        db,
        views,
        codes: deps.codes,
        mailer: deps.mailer,
        now: deps.now ?? Date.now,
        endpoint: config.endpoint,
        lockout: deps.lockout,
        knownDevices: createKnownDevices(deps.cookieKeys, config.secureCookies),
        progress: createProgressHint(config.secureCookies, deps.now ?? Date.now),
        passwords: deps.passwords,
        codeTtlMinutes: config.codeTtlMinutes,
        logCodes: config.env !== 'production',
      }, { relyingParty: relyingParty(config.endpoint) });
    });
  });

  return app;
}
