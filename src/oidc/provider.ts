import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import type { Views } from '../interaction/views.ts';
import { createAdapterFactory } from './adapter.ts';
import { CLAIMS_BY_SCOPE, createFindAccount } from './account.ts';
import type { ServerSecrets } from './keys.ts';
import { describeOidcError } from './errors.ts';

export interface ProviderDeps {
  config: Readonly<Config>;
  db: Database;
  secrets: ServerSecrets;
  views: Views;
  now?: () => number;
}

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

export function createProvider({ config, db, secrets, views, now = Date.now }: ProviderDeps): Provider {
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: config.secureCookies, signed: true };

  const configuration: Configuration = {
    adapter: createAdapterFactory(db, now),
    findAccount: createFindAccount(db),
    jwks: secrets.jwks as unknown as Configuration['jwks'],
    cookies: { keys: secrets.cookieKeys, long: cookieOptions, short: cookieOptions },
    responseTypes: ['code'],
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: { ...CLAIMS_BY_SCOPE },
    // Logto SDKs and our demo read profile claims from the ID token of a code flow.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => renderLogout(ctx, form, views),
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = views.render('signed-out', {
            title: 'You have been signed out',
            appName: ctx.oidc.client?.clientName,
          });
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: () => {
          throw new errors.InvalidTarget();
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // Every refresh response carries a new refresh token (Logto SDKs expect one); reuse of a rotated
    // token is detected by oidc-provider and revokes the whole grant.
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: HOUR,
      AuthorizationCode: 60,
      IdToken: HOUR,
      Interaction: HOUR,
      Grant: 14 * DAY,
      Session: 14 * DAY,
      RefreshToken: 14 * DAY,
    },
    renderError: async (ctx, out, error) => {
      ctx.type = 'html';
      const { title, message } = describeOidcError(out.error, out.error_description);
      ctx.body = views.render('error', {
        title,
        message,
        details: out.error,
      });
      void error;
    },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}

/**
 * RP-initiated logout. When the app names a registered post-logout URI, sign-out completes with no
 * confirmation click: the page posts the form itself (script from our own origin, CSP-safe), with a
 * button for browsers without JavaScript. Without a registered URI, the person is asked.
 */
async function renderLogout(ctx: KoaContextWithOIDC, form: string, views: Views): Promise<void> {
  const autoConfirm = Boolean(ctx.oidc.client && ctx.oidc.params?.post_logout_redirect_uri);
  ctx.type = 'html';
  ctx.body = views.render('logout', {
    title: autoConfirm ? 'Signing you out' : 'Sign out?',
    appName: ctx.oidc.client?.clientName,
    providerForm: form,
    autoConfirm,
  });
}
